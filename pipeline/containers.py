"""Reading container and image state on the target."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pipeline.commands import docker
from pipeline.errors import RemoteCommandError
from pipeline.remote import Runner

NOT_FOUND_MARKERS = ("No such container", "No such object", "no such container")


@dataclass(frozen=True)
class ContainerState:
    name: str
    id: str
    status: str
    health: str | None
    image: str
    version: str | None
    started_at: str
    restart_count: int
    exit_code: int
    user: str
    labels: dict[str, str] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)
    health_log: tuple[str, ...] = ()
    created: str = ""

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def role(self) -> str | None:
        return self.labels.get(docker.ROLE_LABEL)

    @property
    def alias(self) -> str | None:
        return self.labels.get(docker.ALIAS_LABEL)


def parse_inspect(text: str) -> ContainerState:
    """Parse `docker container inspect` JSON for one container."""
    data = json.loads(text)[0]
    state = data.get("State", {})
    config = data.get("Config", {})
    labels = config.get("Labels") or {}
    health = state.get("Health") or {}
    networks = (data.get("NetworkSettings") or {}).get("Networks") or {}
    return ContainerState(
        name=data.get("Name", "").lstrip("/"),
        id=data.get("Id", "")[:12],
        status=state.get("Status", "unknown"),
        health=health.get("Status"),
        image=config.get("Image", ""),
        version=labels.get(docker.VERSION_LABEL),
        started_at=state.get("StartedAt", ""),
        restart_count=int(data.get("RestartCount", 0)),
        exit_code=int(state.get("ExitCode", 0)),
        user=config.get("User", ""),
        labels=dict(labels),
        networks={name: (network or {}).get("IPAddress", "") for name, network in networks.items()},
        health_log=tuple(str(entry.get("Output", "")).strip() for entry in health.get("Log") or []),
        created=data.get("Created", ""),
    )


def read_container(runner: Runner, name: str) -> ContainerState | None:
    """Return the container's state, or None when no container has that name."""
    result = runner.run(docker.inspect_container(name), check=False, quiet=True)
    if result.ok:
        return parse_inspect(result.stdout)
    if any(marker in result.stderr for marker in NOT_FOUND_MARKERS):
        return None
    raise RemoteCommandError(
        f"docker container inspect {name} failed on {runner.where}: {result.stderr.strip()}",
        exit_code=result.exit_code,
        stderr=result.stderr,
    )


def digest_ref(repo_digests_json: str, repository: str) -> str | None:
    """Pick repository@sha256:... for `repository` from `docker image inspect` RepoDigests JSON."""
    digests = json.loads(repo_digests_json) or []
    for ref in digests:
        if ref.startswith(repository + "@sha256:"):
            return ref
    return None


@dataclass(frozen=True)
class ReleaseRow:
    """One app container of an environment, as `docker container ls` lists it."""

    name: str
    image: str
    state: str
    created_at: str
    labels: dict[str, str]

    @property
    def version(self) -> str | None:
        return self.labels.get(docker.VERSION_LABEL)

    @property
    def alias(self) -> str | None:
        return self.labels.get(docker.ALIAS_LABEL)


def parse_release_rows(text: str) -> list[ReleaseRow]:
    """Parse `docker container ls --format '{{json .}}'` lines; Docker lists the newest first."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        labels = dict(item.split("=", 1) for item in str(row.get("Labels", "")).split(",") if "=" in item)
        rows.append(
            ReleaseRow(
                name=str(row.get("Names", "")),
                image=str(row.get("Image", "")),
                state=str(row.get("State", "")),
                created_at=str(row.get("CreatedAt", "")),
                labels=labels,
            )
        )
    return rows


def list_releases(runner: Runner, environment: str) -> list[ReleaseRow]:
    return parse_release_rows(runner.run(docker.list_releases(environment), quiet=True).stdout)
