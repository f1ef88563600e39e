"""Settings: deploy.toml (environments, committed) and an environment file (target and secrets).

Everything is validated on load and returned as frozen dataclasses. Values from the process
environment override the file, so CI secrets need no file at all. Messages name the file or the
process environment that a bad value came from, and never quote a secret.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from pipeline import validate
from pipeline.environments import Environment, display_path, environments_from, load_calendar_file, load_config
from pipeline.errors import InputError
from pipeline.freeze import FreezeWindow, environment_names, parse_calendar
from pipeline.notify import webhook_problem
from pipeline.secret import Secret
from pipeline.sshkeys import load_private_key, parse_known_hosts

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "deploy.toml"
ENV_FILE_VARIABLE = "AGENT_DK_ENV_FILE"
CONFIG_VARIABLE = "AGENT_DK_CONFIG"
DEFAULT_ENV_FILES = (REPO_ROOT / ".env", REPO_ROOT / ".env.sandbox")
DEFAULT_BASE_IMAGE = "python:3.11-slim"
DEFAULT_PROXY_IMAGE = "nginx:stable"


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
    proxy_image: str = DEFAULT_PROXY_IMAGE
    freeze_windows: tuple[FreezeWindow, ...] = ()
    registry_via_ssh: bool = False
    tunnel_port: int | None = None
    # Where each value of `values` was set: the env file's path or "the process environment".
    origins: Mapping[str, str] = field(default_factory=dict, repr=False)

    def environment(self, name: str | None) -> Environment:
        """Resolve an environment name or alias, or raise InputError listing the valid ones."""
        listed = ", ".join(
            env.name + (f" ({', '.join(env.aliases)})" if env.aliases else "") for env in self.environments.values()
        )
        if not name:
            raise InputError(f"missing --env: give one of {listed}")
        for env in self.environments.values():
            if name == env.name or name in env.aliases:
                if self.gpus_override is not None:
                    return env.with_gpus(self.gpus_override)
                return env
        labels = [label for env in self.environments.values() for label in (env.name, *env.aliases)]
        raise InputError(
            f"unknown environment {name!r}: {validate.choices(name, labels, 'environments', listed=listed)}"
        )

    def origin(self, name: str) -> str:
        """Return where the variable name was set, for messages: the env file's path or the process environment."""
        return self.origins.get(name) or _origin_of_defaults(self.env_file)

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
        key_text = self._text_or_file("SSH_KEY", kind="private key")
        load_private_key(key_text, source=self._source_name("SSH_KEY"))
        known_hosts = self._text_or_file("SSH_KNOWN_HOSTS", kind="known_hosts")
        parse_known_hosts(known_hosts, source=self._source_name("SSH_KNOWN_HOSTS"))
        return Target(
            host=validate.host(self.values["SSH_HOST"], source="SSH_HOST", where=self.origin("SSH_HOST")),
            port=validate.port(self.values.get("SSH_PORT") or "22", source="SSH_PORT", where=self.origin("SSH_PORT")),
            user=validate.user(self.values["SSH_USER"], source="SSH_USER", where=self.origin("SSH_USER")),
            key=Secret(key_text),
            known_hosts=known_hosts,
            publish_address=validate.ip_address(
                self.values.get("PUBLISH_ADDRESS") or "0.0.0.0",
                source="PUBLISH_ADDRESS",
                where=self.origin("PUBLISH_ADDRESS"),
            ),
        )

    def webhook(self, name: str) -> Secret | None:
        """Return a webhook URL (SLACK_WEBHOOK_URL or TEAMS_WEBHOOK_URL) as a secret, or None when unset."""
        value = self.values.get(name)
        return Secret(value) if value else None

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

    def _source_name(self, name: str) -> str:
        """Name the setting that contains name's text, such as "SSH_KEY in .env" or "SSH_KEY_FILE '~/x' in .env"."""
        if self.values.get(name):
            return f"{name} in {self.origin(name)}"
        return f"{name}_FILE {self.values.get(name + '_FILE')!r} in {self.origin(name + '_FILE')}"

    def _text_or_file(self, name: str, *, kind: str) -> str:
        text = self.values.get(name)
        path_value = self.values.get(f"{name}_FILE")
        if text and path_value:
            text_origin, path_origin = self.origin(name), self.origin(f"{name}_FILE")
            where = f"in {text_origin}" if text_origin == path_origin else f"({text_origin}, {path_origin})"
            raise InputError(f"both {name} and {name}_FILE are set {where}: keep one of them")
        if text:
            return text
        path = Path(path_value or "").expanduser()
        setting = self._source_name(name)
        try:
            return path.read_text()
        except FileNotFoundError:
            raise InputError(
                f"{name}_FILE {path_value!r} not found (set in {self.origin(name + '_FILE')}): "
                "give the path of an existing file"
            ) from None
        except IsADirectoryError:
            raise InputError(
                f"{setting} cannot be read: it is a directory, so give the path of the {kind} file"
            ) from None
        except PermissionError:
            raise InputError(f"{setting} cannot be read: permission denied") from None
        except UnicodeDecodeError:
            raise InputError(f"{setting} cannot be read: it is not UTF-8 text, so it is not a {kind} file") from None


SECRET_VARIABLES = ("SSH_KEY", "REGISTRY_PASSWORD", "SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK_URL")
PROCESS_ENVIRONMENT = "the process environment"
VARIABLE_NAME = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def _origin_of_defaults(env_file: Path | None) -> str:
    # A value that no file or variable sets is a built-in default, which is valid. Name the file the user would edit.
    return str(env_file) if env_file is not None else PROCESS_ENVIRONMENT


def choose_env_file(environ: Mapping[str, str]) -> Path | None:
    explicit = environ.get(ENV_FILE_VARIABLE)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"{ENV_FILE_VARIABLE} {explicit!r} not found: give the path of an environment file")
        return path
    return next((path for path in DEFAULT_ENV_FILES if path.is_file()), None)


def read_env_file(path: Path) -> dict[str, str]:
    """Read an env file, rejecting lines python-dotenv cannot parse and variables the pipeline does not read.

    python-dotenv only warns about a line it cannot parse and drops it, so a typo such as an unclosed
    quote would otherwise leave a setting at its default. Messages name the variable but never quote
    a line, because the line may contain a secret.
    """
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise InputError(f"{path} cannot be read: it is not UTF-8 text, so it is not an env file") from None
    except PermissionError:
        raise InputError(f"{path} cannot be read: permission denied") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            name = VARIABLE_NAME.match(binding.original.string)
            named = f" ({name[1]})" if name else ""
            raise InputError(
                f"invalid line {binding.original.line}{named} in {path}: python-dotenv cannot parse it, "
                "so check its quotes: expected NAME=value"
            )
    values = {key: value for key, value in dotenv_values(stream=io.StringIO(text)).items() if value is not None}
    for name in values:
        if name in KNOWN_VARIABLES:
            continue
        if name.startswith("AGENT_DK_"):
            raise InputError(f"{name} in {path} has no effect there: set it in the process environment")
        raise InputError(
            f"unknown variable {name!r} in {path}: {validate.choices(name, sorted(KNOWN_VARIABLES), 'variables')}"
        )
    return values


def load_settings(config_path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load deploy.toml (or the file AGENT_DK_CONFIG names) and the environment file, validating every value."""
    environ = os.environ if environ is None else environ
    config_source = None
    config_missing = "the environments file is required"
    if config_path is None:
        if environ.get(CONFIG_VARIABLE):
            config_source = f"{CONFIG_VARIABLE} {environ[CONFIG_VARIABLE]!r}"
            config_missing = f"set {CONFIG_VARIABLE} to the path of an existing environments file"
        config_path = Path(environ.get(CONFIG_VARIABLE) or DEFAULT_CONFIG)
    env_file = choose_env_file(environ)
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    if env_file is not None:
        values.update(read_env_file(env_file))
        origins.update(dict.fromkeys(values, str(env_file)))
    # An empty variable counts as unset: CI passes secrets that are not defined as "".
    from_process = {key: value for key, value in environ.items() if key in KNOWN_VARIABLES and value != ""}
    values.update(from_process)
    origins.update(dict.fromkeys(from_process, PROCESS_ENVIRONMENT))
    values = {
        key: value.strip() if key not in ("SSH_KEY", "SSH_KNOWN_HOSTS") else value for key, value in values.items()
    }
    config = load_config(config_path, source=config_source, missing=config_missing)
    return _settings_from(config, values, env_file, config_path, origins)


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
    "PROXY_IMAGE",
    "SLACK_WEBHOOK_URL",
    "TEAMS_WEBHOOK_URL",
    "REGISTRY_VIA_SSH",
    "REGISTRY_TUNNEL_PORT",
}


def _settings_from(
    config: dict[str, Any],
    values: dict[str, str],
    env_file: Path | None,
    config_path: Path = DEFAULT_CONFIG,
    origins: Mapping[str, str] | None = None,
) -> Settings:
    origins = origins or {}

    def origin(name: str) -> str:
        return origins.get(name) or _origin_of_defaults(env_file)

    registry = None
    if values.get("REGISTRY"):
        username = values.get("REGISTRY_USERNAME") or None
        password = values.get("REGISTRY_PASSWORD") or None
        if bool(username) != bool(password):
            given = "REGISTRY_USERNAME" if username else "REGISTRY_PASSWORD"
            raise InputError(
                f"REGISTRY_USERNAME and REGISTRY_PASSWORD go together: set both or neither "
                f"({given} is set in {origin(given)})"
            )
        registry = Registry(
            address=validate.registry(values["REGISTRY"], where=origin("REGISTRY")),
            username=username,
            password=Secret(password) if password else None,
        )
    ca_cert = None
    if values.get("BUILD_CA_CERT"):
        ca_cert = Path(values["BUILD_CA_CERT"])
        if not ca_cert.is_file():
            raise InputError(
                f"BUILD_CA_CERT {values['BUILD_CA_CERT']!r} not found (set in {origin('BUILD_CA_CERT')}): "
                "give the path of a PEM file"
            )
    gpus_override = values.get("GPUS_OVERRIDE") or None
    if gpus_override is not None:
        validate.gpus(gpus_override, source="GPUS_OVERRIDE", where=origin("GPUS_OVERRIDE"))
    for name in ("SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK_URL"):
        problem = webhook_problem(values[name]) if values.get(name) else ""
        if problem:
            raise InputError(f"invalid {name} in {origin(name)} (not shown, it is a secret): {problem}")
    project = config.get("project", {})
    shown_config = display_path(config_path)
    environments = environments_from(config, source=shown_config)
    return Settings(
        image_name=validate.repository(
            project.get("image", "agent-dk"), source="image", where=f"[project] of {shown_config}"
        ),
        source_url=str(project.get("source", "")),
        environments=environments,
        freeze_windows=tuple(load_freeze_windows(config, config_path, environments)),
        env_file=env_file,
        values=values,
        origins=origins,
        registry=registry,
        base_image=validate.image(
            values.get("BASE_IMAGE") or DEFAULT_BASE_IMAGE, source="BASE_IMAGE", where=origin("BASE_IMAGE")
        ),
        build_ca_cert=ca_cert,
        gpus_override=gpus_override,
        registry_via_ssh=_flag(values.get("REGISTRY_VIA_SSH", ""), "REGISTRY_VIA_SSH", origin("REGISTRY_VIA_SSH")),
        tunnel_port=(
            validate.port(
                values["REGISTRY_TUNNEL_PORT"], source="REGISTRY_TUNNEL_PORT", where=origin("REGISTRY_TUNNEL_PORT")
            )
            if values.get("REGISTRY_TUNNEL_PORT")
            else None
        ),
        proxy_image=validate.image(
            values.get("PROXY_IMAGE") or DEFAULT_PROXY_IMAGE,
            source="PROXY_IMAGE",
            where=origin("PROXY_IMAGE"),
            example=DEFAULT_PROXY_IMAGE,
        ),
    )


def load_freeze_windows(
    config: dict[str, Any], config_path: Path, environments: Mapping[str, Environment]
) -> list[FreezeWindow]:
    """Read [[freeze]] tables from deploy.toml and from the calendar file that [project] freeze_calendar names."""
    names = environment_names(environments)
    shown_config = display_path(config_path)
    windows = parse_calendar(config.get("freeze", []), names, source=shown_config)
    calendar = config.get("project", {}).get("freeze_calendar")
    if calendar:
        path = config_path.parent / str(calendar)
        setting = f"freeze_calendar {calendar!r} in [project] of {shown_config}"
        calendar_config = load_calendar_file(path, source=setting)
        windows += parse_calendar(calendar_config.get("freeze", []), names, source=display_path(path))
    return windows


def _flag(value: str, name: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("", "false", "0", "no"):
        return False
    if lowered in ("true", "1", "yes"):
        return True
    raise InputError(f"invalid {name} {value!r} in {where}: expected true or false")
