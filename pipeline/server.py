"""One environment on the target: where its state lives and who is acting on it."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from functools import cached_property

from pipeline.commands import files
from pipeline.config import Settings, Target
from pipeline.environments import Environment
from pipeline.remote import Runner

STATE_DIR_NAME = ".agent-dk"


@dataclass
class EnvContext:
    """Everything an operation on one environment needs."""

    settings: Settings
    env: Environment
    target: Target
    runner: Runner

    @cached_property
    def root(self) -> str:
        """Return the environment's state directory, under the deploy user's home on the target."""
        home = self.runner.run(files.home_directory(), quiet=True).stdout.strip()
        if not home.startswith("/"):
            raise ValueError(f"the target reported an invalid HOME {home!r}")
        return f"{home}/{STATE_DIR_NAME}/{self.env.name}"

    @property
    def proxy_dir(self) -> str:
        return f"{self.root}/proxy"

    @property
    def app_env_file(self) -> str:
        return f"{self.root}/app.env"

    @property
    def releases_file(self) -> str:
        return f"{self.root}/releases.jsonl"


def actor() -> str:
    """Name who runs the pipeline: the CI actor when set, else user@host."""
    github_actor = os.environ.get("GITHUB_ACTOR")
    if github_actor:
        return f"{github_actor} (GitHub Actions)"
    return f"{getpass.getuser()}@{socket.gethostname()}"
