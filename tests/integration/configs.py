"""Variants of the test deploy.toml, written to temporary files for one test."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from tests.integration.conftest import TEST_CONFIG


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _table(name: str, values: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {_value(value)}\n" for key, value in values.items()) + "\n"


def write_config(
    tmp_path: Path,
    environments: dict[str, dict[str, Any]] | None = None,
    freeze: list[dict[str, Any]] | None = None,
) -> Path:
    """Write the test configuration with `environments` keys merged in and `freeze` windows added."""
    config = tomllib.loads(TEST_CONFIG.read_text())
    for name, keys in (environments or {}).items():
        config["environments"][name].update(keys)
    text = _table("project", config["project"]) + _table("defaults", config["defaults"])
    for name, table in config["environments"].items():
        text += _table(f"environments.{name}", table)
    for window in freeze or []:
        text += "[[freeze]]\n" + "".join(f"{key} = {_value(value)}\n" for key, value in window.items()) + "\n"
    path = tmp_path / "deploy.toml"
    path.write_text(text)
    return path
