"""What an environment runs right now."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.commands import probe
from pipeline.config import Environment, Target
from pipeline.containers import read_container
from pipeline.deploy import read_version
from pipeline.remote import Runner


@dataclass(frozen=True)
class Status:
    environment: str
    container: str
    state: str
    health: str | None
    image: str | None
    version: str | None
    started_at: str | None
    answering_version: str | None
    url: str

    def lines(self) -> list[str]:
        return [
            f"environment: {self.environment}",
            f"container:   {self.container} ({self.state}{', ' + self.health if self.health else ''})",
            f"image:       {self.image or '-'}",
            f"version:     {self.version or '-'} (label)",
            f"started at:  {self.started_at or '-'}",
            f"answering:   {self.url} reports version {self.answering_version or '(no answer)'}",
        ]


def read_status(runner: Runner, target: Target, env: Environment) -> Status:
    state = read_container(runner, env.container)
    url = probe.local_url(target.publish_address, env.port, "/version")
    answering = read_version(runner, url)
    return Status(
        environment=env.name,
        container=env.container,
        state=state.status if state else "absent",
        health=state.health if state else None,
        image=state.image if state else None,
        version=state.version if state else None,
        started_at=state.started_at if state else None,
        answering_version=answering,
        url=f"http://{target.publish_address}:{env.port}",
    )
