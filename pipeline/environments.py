"""deploy.toml: the environments, validated into frozen dataclasses."""

from __future__ import annotations

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


def read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise InputError(f"{path} not found: {what}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"invalid {path.name}: {error}") from None


def load_calendar_file(path: Path) -> dict[str, Any]:
    """Read a separate freeze calendar: a TOML file of [[freeze]] tables only."""
    calendar = read_toml(path, "the freeze calendar that [project] freeze_calendar names is missing")
    _reject_unknown(calendar, {"freeze"}, path.name)
    return calendar


def load_config(path: Path) -> dict[str, Any]:
    config = read_toml(path, "the environments file is required")
    _reject_unknown(config, TOP_LEVEL_KEYS, path.name)
    _reject_unknown(config.get("project", {}), PROJECT_KEYS, "[project]")
    _reject_unknown(config.get("defaults", {}), set(TUNABLE_DEFAULTS), "[defaults]")
    return config


def _reject_unknown(table: Mapping[str, Any], valid: set[str], where: str) -> None:
    if not isinstance(table, Mapping):
        raise InputError(f"{where} must be a table")
    unknown = sorted(set(table) - valid)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in {where}: valid keys are {', '.join(sorted(valid))}")


def environments_from(config: dict[str, Any]) -> dict[str, Environment]:
    tables = config.get("environments")
    if not isinstance(tables, dict) or not tables:
        raise InputError("deploy.toml has no [environments.<name>] tables: define at least one environment")
    defaults = config.get("defaults", {})
    environments: dict[str, Environment] = {}
    seen_ports: dict[int, str] = {}
    seen_names: dict[str, str] = {}
    for name, table in tables.items():
        where = f"[environments.{name}]"
        _reject_unknown(table, ENVIRONMENT_KEYS, where)
        missing = sorted(REQUIRED_ENVIRONMENT_KEYS - set(table))
        if missing:
            raise InputError(f"missing {', '.join(missing)} in {where}")
        env = _environment_from(name, {**TUNABLE_DEFAULTS, **defaults, **table}, where)
        for label in (env.name, *env.aliases):
            if label in seen_names:
                raise InputError(f"environment name {label!r} in {where} is already used by {seen_names[label]}")
            seen_names[label] = where
        if env.port in seen_ports:
            raise InputError(f"port {env.port} in {where} is already used by {seen_ports[env.port]}")
        seen_ports[env.port] = where
        environments[name] = env
    return environments


def _environment_from(name: str, table: dict[str, Any], where: str) -> Environment:
    validate.container_name(name, source=f"environment name {name!r}")
    aliases = table.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(alias, str) and alias for alias in aliases):
        raise InputError(f"invalid aliases in {where}: expected a list of names")
    branch = table["branch"]
    if not isinstance(branch, str) or not branch or branch.startswith("-") or any(c.isspace() for c in branch):
        raise InputError(f"invalid branch {branch!r} in {where}: expected a git branch name")
    return Environment(
        name=name,
        aliases=tuple(aliases),
        github_environment=str(table.get("github_environment", name)),
        branch=branch,
        port=validate.port(table["port"], source=f"port in {where}"),
        container=validate.container_name(str(table["container"]), source=f"container in {where}"),
        approval=_boolean(table["approval"], f"approval in {where}"),
        gpus=validate.gpus(table["gpus"], source=f"gpus in {where}"),
        strategy=_choice(table["strategy"], STRATEGIES, f"strategy in {where}"),
        ready_timeout=validate.positive_number(table["ready_timeout"], source=f"ready_timeout in {where}"),
        stop_timeout=validate.positive_number(table["stop_timeout"], source=f"stop_timeout in {where}"),
        drain_timeout=_non_negative(table["drain_timeout"], f"drain_timeout in {where}"),
        retain=int(_non_negative(table["retain"], f"retain in {where}", integer=True)),
        memory=_pattern(table["memory"], MEMORY_PATTERN, f"memory in {where}", 'a size such as "4g" or "512m"'),
        pids_limit=int(validate.positive_number(table["pids_limit"], source=f"pids_limit in {where}")),
        proxy_connect_timeout=_nginx_seconds(table["proxy_connect_timeout"], f"proxy_connect_timeout in {where}"),
        proxy_read_timeout=_nginx_seconds(table["proxy_read_timeout"], f"proxy_read_timeout in {where}"),
        client_max_body_size=_pattern(
            table["client_max_body_size"], SIZE_PATTERN, f"client_max_body_size in {where}", 'a size such as "50m"'
        ),
        app_env=_app_env(table["app_env"], f"app_env in {where}"),
        backup_path=_backup_path(table["backup_path"], f"backup_path in {where}"),
        backup_max_age_hours=int(
            validate.positive_number(table["backup_max_age_hours"], source=f"backup_max_age_hours in {where}")
        ),
        min_free_disk_mb=int(_non_negative(table["min_free_disk_mb"], f"min_free_disk_mb in {where}", integer=True)),
        gpu_memory_mb=int(_non_negative(table["gpu_memory_mb"], f"gpu_memory_mb in {where}", integer=True)),
        latency_requests=int(
            validate.positive_number(table["latency_requests"], source=f"latency_requests in {where}")
        ),
        latency_p50_ms=int(validate.positive_number(table["latency_p50_ms"], source=f"latency_p50_ms in {where}")),
        latency_p95_ms=int(validate.positive_number(table["latency_p95_ms"], source=f"latency_p95_ms in {where}")),
        tls_cert=_server_path(table["tls_cert"], f"tls_cert in {where}"),
        tls_key=_server_path(table["tls_key"], f"tls_key in {where}"),
        tls_host=_tls_host(table, where),
        tls_ca=_server_path(table["tls_ca"], f"tls_ca in {where}"),
        tls_min_days=int(_non_negative(table["tls_min_days"], f"tls_min_days in {where}", integer=True)),
        lock_stale_after=validate.positive_number(table["lock_stale_after"], source=f"lock_stale_after in {where}"),
        security_threshold=_choice(
            str(table["security_threshold"]).upper(), SEVERITIES, f"security_threshold in {where}"
        ),
    )


def _boolean(value: object, source: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"invalid {source} {value!r}: expected true or false")
    return value


def _choice(value: object, choices: tuple[str, ...], source: str) -> str:
    if value not in choices:
        raise InputError(f"invalid {source} {value!r}: expected one of {', '.join(choices)}")
    return str(value)


def _non_negative(value: object, source: str, *, integer: bool = False) -> float:
    valid_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not valid_type or value < 0:  # type: ignore[operator]
        kind = "a whole number" if integer else "a number"
        raise InputError(f"invalid {source} {value!r}: expected {kind} of 0 or more")
    return float(value)  # type: ignore[arg-type]


def _nginx_seconds(value: object, source: str) -> float:
    seconds = validate.positive_number(value, source=source)
    if not seconds.is_integer() or seconds > NGINX_MAX_SECONDS:
        raise InputError(f"invalid {source} {value!r}: expected whole seconds from 1 to {NGINX_MAX_SECONDS}")
    return seconds


def _pattern(value: object, pattern: re.Pattern[str], source: str, expected: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InputError(f"invalid {source} {value!r}: expected {expected}")
    return value


def _backup_path(value: object, source: str) -> str:
    return _server_path(value, source)


def _server_path(value: object, source: str) -> str:
    if not isinstance(value, str) or (value and (not value.startswith("/") or "\n" in value)):
        raise InputError(f'invalid {source} {value!r}: expected an absolute path on the server, or "" for none')
    return value


def _tls_host(table: dict[str, Any], where: str) -> str:
    """Validate the TLS settings together: certificate and key go together and need a host name."""
    if bool(table["tls_cert"]) != bool(table["tls_key"]):
        raise InputError(f"tls_cert and tls_key in {where} go together: set both or neither")
    host = table["tls_host"]
    if table["tls_cert"] and not host:
        raise InputError(f"missing tls_host in {where}: the host name the certificate is for")
    if host:
        validate.host(str(host), source=f"tls_host in {where}")
    if ":" in str(host):
        # The probe URL and curl --resolve would need an IPv6 address in brackets. Python also accepts
        # any text after "%" as an IPv6 zone, which would reach nginx's server_name line unchecked.
        raise InputError(f"invalid tls_host in {where} {host!r}: expected a host name or an IPv4 address")
    return str(host)


def _app_env(value: object, source: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InputError(f'invalid {source}: expected a table of NAME = "value"')
    result = {}
    for name, item in value.items():
        if not ENV_NAME_PATTERN.fullmatch(name):
            raise InputError(f"invalid {source} name {name!r}: expected uppercase letters, digits and '_'")
        if not isinstance(item, (str, int, float)) or isinstance(item, bool) or "\n" in str(item):
            raise InputError(f"invalid {source} value for {name}: expected a single-line string or number")
        result[name] = str(item)
    return result
