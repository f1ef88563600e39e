"""Settings: deploy.toml (environments, committed) and an environment file (target and secrets).

Everything is validated on load and returned as frozen dataclasses. Values from the process
environment override the file, so CI secrets need no file at all.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from pipeline import validate
from pipeline.errors import InputError
from pipeline.secret import Secret
from pipeline.sshkeys import load_private_key, parse_known_hosts

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "deploy.toml"
ENV_FILE_VARIABLE = "AGENT_DK_ENV_FILE"
DEFAULT_ENV_FILES = (REPO_ROOT / ".env", REPO_ROOT / ".env.sandbox")
DEFAULT_BASE_IMAGE = "python:3.11-slim"

ENVIRONMENT_KEYS = {
    "aliases",
    "github_environment",
    "branch",
    "port",
    "container",
    "approval",
    "gpus",
    "ready_timeout",
    "stop_timeout",
}
REQUIRED_ENVIRONMENT_KEYS = {"branch", "port", "container"}
TOP_LEVEL_KEYS = {"project", "defaults", "environments"}
PROJECT_KEYS = {"image", "source"}
DEFAULT_KEYS = {"ready_timeout", "stop_timeout"}


@dataclass(frozen=True)
class Environment:
    """One deploy environment from deploy.toml."""

    name: str
    aliases: tuple[str, ...]
    github_environment: str
    branch: str
    port: int
    container: str
    approval: bool
    gpus: str
    ready_timeout: float
    stop_timeout: float


@dataclass(frozen=True)
class Target:
    """The server the environments run on, reached over SSH."""

    host: str
    port: int
    user: str
    key: Secret = field(repr=False)
    known_hosts: str = field(repr=False)
    publish_address: str = "0.0.0.0"


@dataclass(frozen=True)
class Registry:
    address: str
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    image_name: str
    source_url: str
    environments: Mapping[str, Environment]
    env_file: Path | None
    values: Mapping[str, str] = field(repr=False)
    registry: Registry | None = None
    base_image: str = DEFAULT_BASE_IMAGE
    build_ca_cert: Path | None = None
    gpus_override: str | None = None

    def environment(self, name: str | None) -> Environment:
        """Resolve an environment name or alias, or raise InputError listing the valid ones."""
        choices = ", ".join(
            env.name + (f" ({', '.join(env.aliases)})" if env.aliases else "") for env in self.environments.values()
        )
        if not name:
            raise InputError(f"missing --env: give one of {choices}")
        for env in self.environments.values():
            if name == env.name or name in env.aliases:
                if self.gpus_override is not None:
                    return _replace_gpus(env, self.gpus_override)
                return env
        raise InputError(f"unknown environment {name!r}: valid environments are {choices}")

    def require_registry(self) -> Registry:
        if self.registry is None:
            raise InputError(f"missing REGISTRY: set it in {self._source_hint()} (host[:port] of the image registry)")
        return self.registry

    def target(self) -> Target:
        """Build and validate the SSH target, naming every missing variable at once."""
        missing = [name for name in ("SSH_HOST", "SSH_USER") if not self.values.get(name)]
        if not self.values.get("SSH_KEY") and not self.values.get("SSH_KEY_FILE"):
            missing.append("SSH_KEY or SSH_KEY_FILE")
        if not self.values.get("SSH_KNOWN_HOSTS") and not self.values.get("SSH_KNOWN_HOSTS_FILE"):
            missing.append("SSH_KNOWN_HOSTS or SSH_KNOWN_HOSTS_FILE")
        if missing:
            raise InputError(f"missing {', '.join(missing)}: set them in {self._source_hint()}")
        key_text = _text_or_file(self.values, "SSH_KEY", secret=True)
        load_private_key(key_text, source=_source_name(self.values, "SSH_KEY"))
        known_hosts = _text_or_file(self.values, "SSH_KNOWN_HOSTS", secret=False)
        parse_known_hosts(known_hosts, source=_source_name(self.values, "SSH_KNOWN_HOSTS"))
        return Target(
            host=validate.host(self.values["SSH_HOST"], source="SSH_HOST"),
            port=validate.port(self.values.get("SSH_PORT") or "22", source="SSH_PORT"),
            user=validate.user(self.values["SSH_USER"], source="SSH_USER"),
            key=Secret(key_text),
            known_hosts=known_hosts,
            publish_address=validate.ip_address(
                self.values.get("PUBLISH_ADDRESS") or "0.0.0.0", source="PUBLISH_ADDRESS"
            ),
        )

    def image_repository(self) -> str:
        return f"{self.require_registry().address}/{self.image_name}"

    def image_ref(self, version: str) -> str:
        """Return registry/repository:tag; the repository is lowercase and the tag keeps its case."""
        return f"{self.image_repository()}:{validate.version_tag(version)}"

    def secrets(self) -> list[Secret]:
        found = [Secret(self.values[name]) for name in SECRET_VARIABLES if self.values.get(name)]
        if self.registry and self.registry.password:
            found.append(self.registry.password)
        return found

    def _source_hint(self) -> str:
        if self.env_file:
            return f"{self.env_file} or the process environment"
        return f"the process environment or a .env file (see .env.example; {ENV_FILE_VARIABLE} names another file)"


SECRET_VARIABLES = ("SSH_KEY", "REGISTRY_PASSWORD")


def _replace_gpus(env: Environment, gpus: str) -> Environment:
    values = {name: getattr(env, name) for name in env.__dataclass_fields__}
    values["gpus"] = gpus
    return Environment(**values)


def _source_name(values: Mapping[str, str], name: str) -> str:
    return name if values.get(name) else f"{name}_FILE {values.get(name + '_FILE')!r}"


def _text_or_file(values: Mapping[str, str], name: str, *, secret: bool) -> str:
    text = values.get(name)
    path_value = values.get(f"{name}_FILE")
    if text and path_value:
        raise InputError(f"both {name} and {name}_FILE are set: keep one of them")
    if text:
        return text
    path = Path(path_value or "").expanduser()
    try:
        return path.read_text()
    except FileNotFoundError:
        raise InputError(f"{name}_FILE {path_value!r} not found: give the path of an existing file") from None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as error:
        kind = "private key" if secret else "known_hosts"
        raise InputError(
            f"{name}_FILE {path_value!r} cannot be read as a {kind} file: {error.__class__.__name__}"
        ) from None


def choose_env_file(environ: Mapping[str, str]) -> Path | None:
    explicit = environ.get(ENV_FILE_VARIABLE)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"{ENV_FILE_VARIABLE} {explicit!r} not found: give the path of an environment file")
        return path
    return next((path for path in DEFAULT_ENV_FILES if path.is_file()), None)


def load_settings(config_path: Path = DEFAULT_CONFIG, environ: Mapping[str, str] | None = None) -> Settings:
    """Load deploy.toml and the environment file, validating every value that is set."""
    environ = os.environ if environ is None else environ
    env_file = choose_env_file(environ)
    values: dict[str, str] = {}
    if env_file is not None:
        values.update({key: value for key, value in dotenv_values(env_file).items() if value is not None})
    values.update({key: value for key, value in environ.items() if key in KNOWN_VARIABLES})
    values = {
        key: value.strip() if key not in ("SSH_KEY", "SSH_KNOWN_HOSTS") else value for key, value in values.items()
    }
    return _settings_from(load_config(config_path), values, env_file)


KNOWN_VARIABLES = {
    "SSH_HOST",
    "SSH_PORT",
    "SSH_USER",
    "SSH_KEY",
    "SSH_KEY_FILE",
    "SSH_KNOWN_HOSTS",
    "SSH_KNOWN_HOSTS_FILE",
    "REGISTRY",
    "REGISTRY_USERNAME",
    "REGISTRY_PASSWORD",
    "PUBLISH_ADDRESS",
    "BASE_IMAGE",
    "BUILD_CA_CERT",
    "GPUS_OVERRIDE",
}


def _settings_from(config: dict[str, Any], values: dict[str, str], env_file: Path | None) -> Settings:
    registry = None
    if values.get("REGISTRY"):
        username = values.get("REGISTRY_USERNAME") or None
        password = values.get("REGISTRY_PASSWORD") or None
        if bool(username) != bool(password):
            raise InputError("REGISTRY_USERNAME and REGISTRY_PASSWORD go together: set both or neither")
        registry = Registry(
            address=validate.registry(values["REGISTRY"]),
            username=username,
            password=Secret(password) if password else None,
        )
    ca_cert = None
    if values.get("BUILD_CA_CERT"):
        ca_cert = Path(values["BUILD_CA_CERT"])
        if not ca_cert.is_file():
            raise InputError(f"BUILD_CA_CERT {values['BUILD_CA_CERT']!r} not found: give the path of a PEM file")
    gpus_override = values.get("GPUS_OVERRIDE") or None
    if gpus_override is not None:
        validate.gpus(gpus_override, source="GPUS_OVERRIDE")
    project = config.get("project", {})
    return Settings(
        image_name=validate.repository(project.get("image", "agent-dk"), source="deploy.toml project.image"),
        source_url=str(project.get("source", "")),
        environments=_environments_from(config),
        env_file=env_file,
        values=values,
        registry=registry,
        base_image=validate.image(values.get("BASE_IMAGE") or DEFAULT_BASE_IMAGE, source="BASE_IMAGE"),
        build_ca_cert=ca_cert,
        gpus_override=gpus_override,
    )


def load_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            config = tomllib.load(stream)
    except FileNotFoundError:
        raise InputError(f"{path} not found: the environments file is required") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"invalid {path.name}: {error}") from None
    _reject_unknown(config, TOP_LEVEL_KEYS, path.name)
    _reject_unknown(config.get("project", {}), PROJECT_KEYS, "[project]")
    _reject_unknown(config.get("defaults", {}), DEFAULT_KEYS, "[defaults]")
    return config


def _reject_unknown(table: Mapping[str, Any], valid: set[str], where: str) -> None:
    unknown = sorted(set(table) - valid)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in {where}: valid keys are {', '.join(sorted(valid))}")


def _environments_from(config: dict[str, Any]) -> dict[str, Environment]:
    tables = config.get("environments")
    if not isinstance(tables, dict) or not tables:
        raise InputError("deploy.toml has no [environments.<name>] tables: define at least one environment")
    defaults = config.get("defaults", {})
    environments: dict[str, Environment] = {}
    seen_ports: dict[int, str] = {}
    seen_names: dict[str, str] = {}
    for name, table in tables.items():
        where = f"[environments.{name}]"
        if not isinstance(table, dict):
            raise InputError(f"{where} must be a table")
        _reject_unknown(table, ENVIRONMENT_KEYS, where)
        missing = sorted(REQUIRED_ENVIRONMENT_KEYS - set(table))
        if missing:
            raise InputError(f"missing {', '.join(missing)} in {where}")
        env = _environment_from(name, table, defaults, where)
        for label in (env.name, *env.aliases):
            if label in seen_names:
                raise InputError(f"environment name {label!r} in {where} is already used by {seen_names[label]}")
            seen_names[label] = where
        if env.port in seen_ports:
            raise InputError(f"port {env.port} in {where} is already used by {seen_ports[env.port]}")
        seen_ports[env.port] = where
        environments[name] = env
    return environments


def _environment_from(name: str, table: dict[str, Any], defaults: dict[str, Any], where: str) -> Environment:
    aliases = table.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(alias, str) and alias for alias in aliases):
        raise InputError(f"invalid aliases in {where}: expected a list of names")
    approval = table.get("approval", False)
    if not isinstance(approval, bool):
        raise InputError(f"invalid approval {approval!r} in {where}: expected true or false")
    branch = table["branch"]
    if not isinstance(branch, str) or not branch or branch.startswith("-") or any(c.isspace() for c in branch):
        raise InputError(f"invalid branch {branch!r} in {where}: expected a git branch name")
    validate.container_name(name, source=f"environment name {name!r}")
    return Environment(
        name=name,
        aliases=tuple(aliases),
        github_environment=str(table.get("github_environment", name)),
        branch=branch,
        port=validate.port(table["port"], source=f"port in {where}"),
        container=validate.container_name(str(table["container"]), source=f"container in {where}"),
        approval=approval,
        gpus=validate.gpus(table.get("gpus", "none"), source=f"gpus in {where}"),
        ready_timeout=validate.positive_number(
            table.get("ready_timeout", defaults.get("ready_timeout", 60)), source=f"ready_timeout in {where}"
        ),
        stop_timeout=validate.positive_number(
            table.get("stop_timeout", defaults.get("stop_timeout", 10)), source=f"stop_timeout in {where}"
        ),
    )
