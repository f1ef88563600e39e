"""Docker CLI commands as argument lists."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ENV_LABEL = "agent-dk.env"
ROLE_LABEL = "agent-dk.role"
VERSION_LABEL = "org.opencontainers.image.version"
APP_PORT = 8080


def _operand(value: str) -> str:
    # Builders put values after their options; a value that looks like an option would change
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
        argv += ["--build-arg", f"{name}={value}"]
    return [*argv, context]


def push(image_ref: str) -> list[str]:
    return ["docker", "push", _operand(image_ref)]


def pull(image_ref: str) -> list[str]:
    return ["docker", "pull", "--quiet", _operand(image_ref)]


def login(registry: str, username: str) -> list[str]:
    """Log in with the password on stdin, so it never appears in a process list."""
    return ["docker", "login", "--username", username, "--password-stdin", _operand(registry)]


def repo_digests(image_ref: str) -> list[str]:
    return ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", _operand(image_ref)]


def inspect_container(name: str) -> list[str]:
    return ["docker", "container", "inspect", "--", _operand(name)]


def list_containers(name: str) -> list[str]:
    """List containers named exactly `name` (any state), one `ID` per line."""
    return ["docker", "container", "ls", "--all", "--quiet", "--filter", f"name=^/{_operand(name)}$"]


def stop(name: str, timeout_seconds: float) -> list[str]:
    return ["docker", "container", "stop", "--time", str(int(timeout_seconds)), "--", _operand(name)]


def start(name: str) -> list[str]:
    return ["docker", "container", "start", "--", _operand(name)]


def remove(name: str, *, force: bool = False) -> list[str]:
    return ["docker", "container", "rm", *(["--force"] if force else []), "--", _operand(name)]


def rename(old: str, new: str) -> list[str]:
    return ["docker", "container", "rename", "--", _operand(old), _operand(new)]


def logs(name: str, lines: int) -> list[str]:
    return ["docker", "container", "logs", "--tail", str(lines), "--", _operand(name)]


def gpus_value(gpus: str) -> str:
    # Docker parses --gpus as CSV, so a device list with commas must be quoted inside the value.
    return f'"{gpus}"' if "," in gpus else gpus


@dataclass(frozen=True)
class AppRun:
    """What `docker run` needs to start one release of the service."""

    name: str
    image: str
    environment: str
    version: str
    publish_address: str
    host_port: int
    gpus: str = "none"
    env: Mapping[str, str] = field(default_factory=dict)


def run_app(spec: AppRun) -> list[str]:
    argv = [
        "docker",
        "run",
        "--detach",
        "--name",
        _operand(spec.name),
        "--publish",
        f"{spec.publish_address}:{spec.host_port}:{APP_PORT}",
        "--restart",
        "unless-stopped",
        "--label",
        f"{ENV_LABEL}={spec.environment}",
        "--label",
        f"{ROLE_LABEL}=app",
        "--label",
        f"{VERSION_LABEL}={spec.version}",
        "--env",
        f"APP_ENV={spec.environment}",
    ]
    for name, value in spec.env.items():
        argv += ["--env", f"{name}={value}"]
    if spec.gpus != "none":
        argv += ["--gpus", gpus_value(spec.gpus)]
    return [*argv, "--", _operand(spec.image)]
