"""Docker CLI commands as argument lists."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

ENV_LABEL = "agent-dk.env"
ROLE_LABEL = "agent-dk.role"
VERSION_LABEL = "org.opencontainers.image.version"
ALIAS_LABEL = "agent-dk.alias"
APP_PORT = 8080
PROXY_PORT = 8080
APP_USER = "10001:10001"
# A --build-arg is NAME=VALUE, so a name with "=" in it would set a different variable.
BUILD_ARG_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _operand(value: str) -> str:
    # Builders put values after their options. A value that looks like an option would change
    # the command, so it is a programming error that validation should have caught.
    if not value or value.startswith("-"):
        raise ValueError(f"invalid command operand {value!r}")
    return value


def build(
    image_ref: str,
    *,
    build_args: Mapping[str, str],
    context: str = ".",
    dockerfile: str = "Dockerfile",
) -> list[str]:
    argv = ["docker", "build", "--file", dockerfile, "--tag", _operand(image_ref)]
    for name, value in build_args.items():
        if not BUILD_ARG_NAME_PATTERN.fullmatch(name):
            raise ValueError(f"invalid build argument name {name!r}: expected letters, digits and '_'")
        argv += ["--build-arg", f"{name}={value}"]
    return [*argv, _operand(context)]


def tag(source: str, target: str) -> list[str]:
    return ["docker", "image", "tag", _operand(source), _operand(target)]


def push(image_ref: str) -> list[str]:
    return ["docker", "push", _operand(image_ref)]


def pull(image_ref: str) -> list[str]:
    return ["docker", "pull", "--quiet", _operand(image_ref)]


def login(registry: str, username: str) -> list[str]:
    """Log in with the password on stdin, so it never appears in a process list."""
    return ["docker", "login", "--username", username, "--password-stdin", _operand(registry)]


def repo_digests(image_ref: str) -> list[str]:
    return ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", _operand(image_ref)]


def inspect_image(image_ref: str) -> list[str]:
    return ["docker", "image", "inspect", "--format", "{{.Id}}", "--", _operand(image_ref)]


def list_images(repository: str) -> list[str]:
    """List the repository's images on the host as repository@digest lines."""
    return [
        "docker",
        "image",
        "ls",
        "--digests",
        "--no-trunc",
        "--format",
        "{{.Repository}}@{{.Digest}}",
        _operand(repository),
    ]


def inspect_container(name: str) -> list[str]:
    return ["docker", "container", "inspect", "--", _operand(name)]


def list_releases(environment: str) -> list[str]:
    """List the environment's app containers in any state, newest first, as `docker ps` JSON lines."""
    return [
        "docker", "container", "ls", "--all", "--no-trunc",
        "--filter", f"label={ENV_LABEL}={environment}",
        "--filter", f"label={ROLE_LABEL}=app",
        "--format", "{{json .}}",
    ]  # fmt: skip


def remove_image(image_ref: str) -> list[str]:
    return ["docker", "image", "rm", "--", _operand(image_ref)]


def inspect_network(name: str) -> list[str]:
    return ["docker", "network", "inspect", "--format", "{{.Name}}", "--", _operand(name)]


def create_network(name: str, environment: str) -> list[str]:
    return [
        "docker", "network", "create", "--driver", "bridge",
        "--label", f"{ENV_LABEL}={environment}", "--", _operand(name),
    ]  # fmt: skip


def engine_info() -> list[str]:
    return ["docker", "info", "--format", "{{json .}}"]


def server_version() -> list[str]:
    """Request the engine's own version, not only the client's, so the command fails when the engine is down."""
    return ["docker", "version", "--format", "{{.Server.Version}}"]


def exec_in(name: str, *command: str) -> list[str]:
    return ["docker", "container", "exec", _operand(name), *command]


def stop(name: str, timeout_seconds: float) -> list[str]:
    return ["docker", "container", "stop", "--time", str(int(timeout_seconds)), "--", _operand(name)]


def start(name: str) -> list[str]:
    return ["docker", "container", "start", "--", _operand(name)]


def remove(name: str, *, force: bool = False) -> list[str]:
    return ["docker", "container", "rm", *(["--force"] if force else []), "--", _operand(name)]


def rename(old: str, new: str) -> list[str]:
    return ["docker", "container", "rename", "--", _operand(old), _operand(new)]


def logs(name: str, lines: int, *, follow: bool = False) -> list[str]:
    return [
        "docker", "container", "logs", "--tail", str(lines), *(["--follow"] if follow else []), "--", _operand(name)
    ]  # fmt: skip


def gpus_value(gpus: str) -> str:
    # Docker parses --gpus as CSV, so a device list with commas must be quoted inside the value. A
    # quote in the value would close that quoted field early, and a line break would end the record.
    if not gpus or any(char in gpus for char in '"\r\n'):
        raise ValueError(f'invalid GPU request {gpus!r}: expected "all" or "device=0,1", without quotes or line breaks')
    return f'"{gpus}"' if "," in gpus else gpus


@dataclass(frozen=True)
class Release:
    """Settings `docker run` needs to start one release of the service on the environment's network."""

    name: str
    alias: str
    image: str
    environment: str
    version: str
    network: str
    env_file: str
    memory: str = "4g"
    pids_limit: int = 512
    gpus: str = "none"


def run_release(spec: Release) -> list[str]:
    """Start a release with no host port, hardened, health-checked every second."""
    argv = [
        "docker", "run", "--detach",
        "--name", _operand(spec.name),
        "--network", _operand(spec.network),
        "--network-alias", _operand(spec.alias),
        "--env-file", _operand(spec.env_file),
        "--user", APP_USER,
        "--read-only",
        "--tmpfs", "/tmp:rw,noexec,nosuid,size=64m",  # noqa: S108 (a tmpfs inside the container)
        "--security-opt", "no-new-privileges",
        "--cap-drop", "ALL",
        "--memory", spec.memory,
        "--pids-limit", str(spec.pids_limit),
        "--restart", "unless-stopped",
        "--health-interval", "1s",
        "--health-timeout", "2s",
        "--health-retries", "3",
        "--health-start-period", "60s",
        "--label", f"{ENV_LABEL}={spec.environment}",
        "--label", f"{ROLE_LABEL}=app",
        "--label", f"{VERSION_LABEL}={spec.version}",
        "--label", f"{ALIAS_LABEL}={spec.alias}",
    ]  # fmt: skip
    if spec.gpus != "none":
        argv += ["--gpus", gpus_value(spec.gpus)]
    return [*argv, "--", _operand(spec.image)]


@dataclass(frozen=True)
class Proxy:
    """The environment's nginx container, which owns the external port."""

    name: str
    image: str
    environment: str
    network: str
    config_dir: str
    publish_address: str
    host_port: int
    tls_cert: str = ""
    tls_key: str = ""


TLS_LABEL = "agent-dk.tls"
PROXY_TLS_CERT = "/etc/nginx/tls/cert.pem"
PROXY_TLS_KEY = "/etc/nginx/tls/key.pem"


def run_proxy(spec: Proxy) -> list[str]:
    # The config directory, not a file, is mounted: editors and atomic renames replace a file's
    # inode, and a single-file bind mount would keep showing the old one.
    argv = [
        "docker", "run", "--detach",
        "--name", _operand(spec.name),
        "--network", _operand(spec.network),
        "--publish", f"{spec.publish_address}:{spec.host_port}:{PROXY_PORT}",
        "--volume", f"{_operand(spec.config_dir)}:/etc/nginx/conf.d:ro",
    ]  # fmt: skip
    if spec.tls_cert:
        argv += [
            "--volume", f"{_operand(spec.tls_cert)}:{PROXY_TLS_CERT}:ro",
            "--volume", f"{_operand(spec.tls_key)}:{PROXY_TLS_KEY}:ro",
        ]  # fmt: skip
    return [
        *argv,
        "--security-opt", "no-new-privileges",
        "--restart", "unless-stopped",
        "--label", f"{ENV_LABEL}={spec.environment}",
        "--label", f"{ROLE_LABEL}=proxy",
        "--label", f"{TLS_LABEL}={'on' if spec.tls_cert else 'off'}",
        "--", _operand(spec.image),
        "nginx", "-g", "daemon off;",
    ]  # fmt: skip


def proxy_test(name: str) -> list[str]:
    return exec_in(name, "nginx", "-t", "-q")


def proxy_reload(name: str) -> list[str]:
    """Reload gracefully: old workers finish their in-flight requests, new ones take new connections."""
    return exec_in(name, "nginx", "-s", "reload")
