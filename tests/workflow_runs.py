"""Reading the GitHub workflows: their jobs, steps and the tasks their run: scripts call."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


@dataclass(frozen=True)
class TaskCall:
    tool: str
    name: str
    flags: tuple[str, ...]


def task_calls(script: str) -> list[TaskCall]:
    """Split a run: script's invoke, make and nox commands into tasks and the flags each gets."""
    calls: list[TaskCall] = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0] not in ("invoke", "make", "nox"):
            continue
        tool, rest = words[0], words[1:]
        if tool == "nox":
            sessions = [rest[index + 1] for index, word in enumerate(rest) if word == "-s"]
            calls += [TaskCall("nox", session, ()) for session in sessions]
            continue
        if tool == "make":
            calls += [TaskCall("make", word, ()) for word in rest if "=" not in word and not word.startswith("-")]
            continue
        current: list[str] = []
        name = ""
        for word in rest:
            # ${NAME:+--flag="$NAME"} passes a flag only when the variable is set.
            if word.startswith("${") and ":+" in word:
                word = word.split(":+", 1)[1].rstrip("}")
            if word.startswith("-"):
                current.append(word.split("=", 1)[0])
            else:
                if name:
                    calls.append(TaskCall("invoke", name, tuple(current)))
                name, current = word, []
        if name:
            calls.append(TaskCall("invoke", name, tuple(current)))
    return calls
