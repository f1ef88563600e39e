"""deploy.toml: the environments, validated into frozen dataclasses."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pipeline import validate
from pipeline.errors import InputError

STRATEGIES = ("blue-green", "recreate")
TOP_LEVEL_KEYS = {"project", "defaults", "environments", "freeze"}
PROJECT_KEYS = {"image", "source", "freeze_calendar"}
SEVERITIES = ("UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL")
IDENTITY_KEYS = {"aliases", "github_environment", "branch", "port", "container"}
REQUIRED_ENVIRONMENT_KEYS = {"branch", "port", "container"}
MEMORY_PATTERN = re.compile(r"[1-9][0-9]*[bkmg]?")
SIZE_PATTERN = re.compile(r"[0-9]+[kmg]?")
ENV_NAME_PATTERN = re.compile(r"[A-Z_][A-Z0-9_]*")
# nginx reads a proxy timeout in whole seconds, at most 2^31 - 1 milliseconds in total. Its
# ngx_parse_time (src/core/ngx_parse.c) rejects "0.5s" and "1e+06s".
NGINX_MAX_SECONDS = 2147483


@dataclass(frozen=True)
class Environment:
    """One deploy environment from deploy.toml."""

    name: str
    aliases: tuple[str, ...]
    github_environment: str
    branch: str
    port: int
    container: str
    approval: bool = False
    gpus: str = "none"
    strategy: str = "blue-green"
    ready_timeout: float = 60
    stop_timeout: float = 10
    drain_timeout: float = 10
    retain: int = 3
    memory: str = "4g"
    pids_limit: int = 512
    proxy_connect_timeout: float = 5
    proxy_read_timeout: float = 300
    client_max_body_size: str = "50m"
    app_env: Mapping[str, str] = field(default_factory=dict)
    backup_path: str = ""
    backup_max_age_hours: int = 26
    min_free_disk_mb: int = 5000
    gpu_memory_mb: int = 0
    security_threshold: str = "HIGH"
    lock_stale_after: float = 1800
    latency_requests: int = 20
    latency_p50_ms: int = 200
    latency_p95_ms: int = 500
    tls_cert: str = ""
    tls_key: str = ""
    tls_host: str = ""
    tls_ca: str = ""
    tls_min_days: int = 14

    @property
    def tls(self) -> bool:
        """Whether the proxy terminates HTTPS for this environment."""
        return bool(self.tls_cert)

    @property
    def production(self) -> bool:
        """Whether the environment is treated as production: it requires approval to change."""
        return self.approval

    @property
    def network(self) -> str:
        return self.container

    def with_gpus(self, gpus: str) -> Environment:
        return replace(self, gpus=gpus)


def _tunable_defaults() -> dict[str, Any]:
    """Return the keys an environment may set or inherit from [defaults], with their built-in values.

    The values are the Environment field defaults, so they are written in one place.
    """
    defaults = {}
    for item in fields(Environment):
        if item.name in IDENTITY_KEYS or item.name == "name":
            continue
        defaults[item.name] = item.default_factory() if item.default is MISSING else item.default  # type: ignore[misc]
    return defaults


TUNABLE_DEFAULTS = _tunable_defaults()
ENVIRONMENT_KEYS = IDENTITY_KEYS | set(TUNABLE_DEFAULTS)


def display_path(path: Path) -> str:
    """Show path relative to the working directory when it lies inside it, as a user would type it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_toml(path: Path, *, source: str, missing: str) -> dict[str, Any]:
    """Parse a TOML file. source is how the user named the file, and missing is the hint after "not found"."""
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise InputError(f"{display_path(path)} not found: {missing}") from None
    except IsADirectoryError:
        raise InputError(f"{source} is a directory: give the path of a TOML file") from None
    except PermissionError:
        raise InputError(f"{source} cannot be read: permission denied") from None
    except UnicodeDecodeError:
        raise InputError(f"invalid TOML in {display_path(path)}: it is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"invalid TOML in {display_path(path)}: {error}") from None


def load_calendar_file(path: Path, *, source: str) -> dict[str, Any]:
    """Read a separate freeze calendar: a TOML file of [[freeze]] tables only.

    source is the setting that names the file, such as "freeze_calendar 'freeze.toml' in [project] of deploy.toml".
    """
    calendar = read_toml(path, source=source, missing=f"{source} names a file that does not exist")
    _reject_unknown(calendar, {"freeze"}, display_path(path))
    # A calendar without windows freezes nothing, which is more likely a wrong or emptied file than intended.
    if not calendar.get("freeze"):
        raise InputError(
            f"freeze calendar {display_path(path)} has no [[freeze]] tables: add at least one, or remove {source}"
        )
    return calendar


def load_config(
    path: Path, *, source: str | None = None, missing: str = "the environments file is required"
) -> dict[str, Any]:
    """Read deploy.toml and reject unknown keys.

    source is how the user named the file when not by its path, and missing is the hint after "not found".
    """
    shown = display_path(path)
    config = read_toml(path, source=source or shown, missing=missing)
    _reject_unknown(config, TOP_LEVEL_KEYS, shown)
    _reject_unknown(config.get("project", {}), PROJECT_KEYS, f"[project] of {shown}")
    _reject_unknown(config.get("defaults", {}), set(TUNABLE_DEFAULTS), f"[defaults] of {shown}")
    return config


def _reject_unknown(table: Mapping[str, Any], valid: set[str], where: str) -> None:
    if not isinstance(table, Mapping):
        raise InputError(f"{where} must be a table")
    unknown = sorted(set(table) - valid)
    if unknown:
        raise InputError(
            f"unknown key {unknown[0]!r} in {where}: {validate.choices(unknown[0], sorted(valid), 'keys')}"
        )


def environments_from(config: dict[str, Any], *, source: str = "deploy.toml") -> dict[str, Environment]:
    """Validate the [environments.<name>] tables, each merged over [defaults]. source names the file in messages."""
    tables = config.get("environments")
    if not isinstance(tables, dict) or not tables:
        raise InputError(f"{source} has no [environments.<name>] tables: define at least one environment")
    defaults = config.get("defaults", {})
    environments: dict[str, Environment] = {}
    seen_ports: dict[int, str] = {}
    seen_names: dict[str, str] = {}
    for name, table in tables.items():
        where = f"[environments.{name}] of {source}"
        _reject_unknown(table, ENVIRONMENT_KEYS, where)
        missing = sorted(REQUIRED_ENVIRONMENT_KEYS - set(table))
        if missing:
            raise InputError(
                f"missing {', '.join(missing)} in {where}: every environment sets branch, container and port"
            )
        locations = _Locations(own=set(table), where=where, defaults=f"[defaults] of {source}")
        env = _environment_from(name, {**TUNABLE_DEFAULTS, **defaults, **table}, locations)
        for label in (env.name, *env.aliases):
            if label in seen_names:
                raise InputError(
                    f"environment name {label!r} in {where} is already used by {seen_names[label]}: "
                    "give each environment its own names"
                )
            seen_names[label] = f"[environments.{name}]"
        if env.port in seen_ports:
            raise InputError(
                f"port {env.port} in {where} is already used by {seen_ports[env.port]}: "
                "give each environment its own port"
            )
        seen_ports[env.port] = f"[environments.{name}]"
        environments[name] = env
    return environments


@dataclass(frozen=True)
class _Locations:
    """The table that set each key of a merged environment table: the environment's own table or [defaults]."""

    own: set[str]
    where: str
    defaults: str

    def __call__(self, key: str) -> str:
        return self.where if key in self.own else self.defaults


def _environment_from(name: str, table: dict[str, Any], at: _Locations) -> Environment:
    validate.container_name(name, source="environment name", where=at.where)
    aliases = table.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(alias, str) and alias for alias in aliases):
        raise InputError(f"invalid aliases {aliases!r} in {at('aliases')}: expected a list of names")
    branch = table["branch"]
    if not isinstance(branch, str) or not branch or branch.startswith("-") or any(c.isspace() for c in branch):
        raise InputError(f"invalid branch {branch!r} in {at('branch')}: expected a git branch name")
    return Environment(
        name=name,
        aliases=tuple(aliases),
        github_environment=str(table.get("github_environment", name)),
        branch=branch,
        port=validate.port(table["port"], source="port", where=at("port")),
        container=validate.container_name(str(table["container"]), source="container", where=at("container")),
        approval=_boolean(table, "approval", at),
        gpus=validate.gpus(table["gpus"], source="gpus", where=at("gpus")),
        strategy=_choice(table, "strategy", STRATEGIES, at),
        ready_timeout=_positive(table, "ready_timeout", at),
        stop_timeout=_positive(table, "stop_timeout", at),
        drain_timeout=_non_negative(table, "drain_timeout", at),
        retain=int(_non_negative(table, "retain", at, integer=True)),
        memory=_pattern(table, "memory", MEMORY_PATTERN, 'a size such as "4g" or "512m"', at),
        pids_limit=int(_positive(table, "pids_limit", at)),
        proxy_connect_timeout=_nginx_seconds(table, "proxy_connect_timeout", at),
        proxy_read_timeout=_nginx_seconds(table, "proxy_read_timeout", at),
        client_max_body_size=_pattern(table, "client_max_body_size", SIZE_PATTERN, 'a size such as "50m"', at),
        app_env=_app_env(table["app_env"], at("app_env")),
        backup_path=_server_path(table, "backup_path", at),
        backup_max_age_hours=int(_positive(table, "backup_max_age_hours", at)),
        min_free_disk_mb=int(_non_negative(table, "min_free_disk_mb", at, integer=True)),
        gpu_memory_mb=int(_non_negative(table, "gpu_memory_mb", at, integer=True)),
        latency_requests=int(_positive(table, "latency_requests", at)),
        latency_p50_ms=int(_positive(table, "latency_p50_ms", at)),
        latency_p95_ms=int(_positive(table, "latency_p95_ms", at)),
        tls_cert=_server_path(table, "tls_cert", at),
        tls_key=_server_path(table, "tls_key", at),
        tls_host=_tls_host(table, at),
        tls_ca=_server_path(table, "tls_ca", at),
        tls_min_days=int(_non_negative(table, "tls_min_days", at, integer=True)),
        lock_stale_after=_positive(table, "lock_stale_after", at),
        security_threshold=_choice(
            table, "security_threshold", SEVERITIES, at, value=str(table["security_threshold"]).upper()
        ),
    )


def _boolean(table: Mapping[str, Any], key: str, at: _Locations) -> bool:
    value = table[key]
    if not isinstance(value, bool):
        raise InputError(f"invalid {key} {value!r} in {at(key)}: expected true or false")
    return value


def _choice(
    table: Mapping[str, Any], key: str, choices: tuple[str, ...], at: _Locations, *, value: object = None
) -> str:
    value = table[key] if value is None else value
    if value not in choices:
        raise InputError(f"invalid {key} {value!r} in {at(key)}: expected one of {', '.join(choices)}")
    return str(value)


def _positive(table: Mapping[str, Any], key: str, at: _Locations) -> float:
    return validate.positive_number(table[key], source=key, where=at(key))


def _non_negative(table: Mapping[str, Any], key: str, at: _Locations, *, integer: bool = False) -> float:
    value = table[key]
    valid_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not valid_type or not math.isfinite(value) or value < 0:
        kind = "a whole number" if integer else "a number"
        raise InputError(f"invalid {key} {value!r} in {at(key)}: expected {kind} of 0 or more")
    return float(value)


def _nginx_seconds(table: Mapping[str, Any], key: str, at: _Locations) -> float:
    seconds = _positive(table, key, at)
    if not seconds.is_integer() or seconds > NGINX_MAX_SECONDS:
        raise InputError(
            f"invalid {key} {table[key]!r} in {at(key)}: expected whole seconds from 1 to {NGINX_MAX_SECONDS}"
        )
    return seconds


def _pattern(table: Mapping[str, Any], key: str, pattern: re.Pattern[str], expected: str, at: _Locations) -> str:
    value = table[key]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InputError(f"invalid {key} {value!r} in {at(key)}: expected {expected}")
    return value


def _server_path(table: Mapping[str, Any], key: str, at: _Locations) -> str:
    value = table[key]
    if not isinstance(value, str) or (value and (not value.startswith("/") or "\n" in value)):
        raise InputError(
            f'invalid {key} {value!r} in {at(key)}: expected an absolute path on the server, or "" for none'
        )
    return value


def _tls_host(table: dict[str, Any], at: _Locations) -> str:
    """Validate the TLS settings together: certificate and key go together and need a host name."""
    if bool(table["tls_cert"]) != bool(table["tls_key"]):
        raise InputError(f"tls_cert and tls_key in {at('tls_cert')} go together: set both or neither")
    host = table["tls_host"]
    if table["tls_cert"] and not host:
        raise InputError(f"missing tls_host in {at('tls_cert')}: the host name the certificate is for")
    if host:
        validate.host(str(host), source="tls_host", where=at("tls_host"))
    if ":" in str(host):
        # The probe URL and curl --resolve would need an IPv6 address in brackets. Python also accepts
        # any text after "%" as an IPv6 zone, which would reach nginx's server_name line unchecked.
        raise InputError(f"invalid tls_host {host!r} in {at('tls_host')}: expected a host name or an IPv4 address")
    return str(host)


def _app_env(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InputError(f'invalid app_env in {where}: expected a table of NAME = "value"')
    result = {}
    for name, item in value.items():
        if not ENV_NAME_PATTERN.fullmatch(name):
            raise InputError(f"invalid app_env name {name!r} in {where}: expected uppercase letters, digits and '_'")
        if not isinstance(item, (str, int, float)) or isinstance(item, bool) or "\n" in str(item):
            raise InputError(f"invalid app_env value for {name} in {where}: expected a single-line string or number")
        result[name] = str(item)
    return result
