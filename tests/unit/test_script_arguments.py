"""The arguments that the pipeline passes to scripts/prechecks.sh and scripts/smoke_test.sh.

Both scripts go to `bash -s --` on stdin, with the values as the script's arguments. These tests
run the pipeline functions that send them with a runner that records each call, and check that
stdin is the script file unchanged whatever the values are.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from unittest import mock

import pytest
from hypothesis import given, settings

from pipeline import prechecks as prechecks_task
from pipeline import smoke as smoke_task
from pipeline.commands import prechecks, smoke
from pipeline.environments import Environment
from pipeline.remote import Result
from tests.unit.property_support import HOSTILE_TEXT, NON_EMPTY_TEXT, REJECTED, environment, tls_environment

UAT = Environment("uat", (), "uat", "develop", 18080, "agent-dk-uat")
RUN_SCRIPT = ["bash", "-s", "--"]
IMAGE = "registry.test:5000/agent-dk:v1"


class RecordingRunner:
    """A runner that records each command and its stdin, and reports success with no output."""

    where = "test"

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def run(self, argv: Sequence[str], *, stdin: str | None = None, **options: object) -> Result:
        self.calls.append((list(argv), stdin))
        return Result(tuple(argv), 0, "", "", 0.0)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("check", ["--production", "all", "freeze", ""])
def test_prechecks_args_reject_unknown_check(check: str) -> None:
    with pytest.raises(ValueError, match="invalid server check"):
        prechecks.prechecks_args(UAT, registry=None, state_dir="/s", image_size_mb=0, checks=(check,))


def test_run_script_takes_no_values() -> None:
    assert prechecks.run_script() == RUN_SCRIPT


@settings(max_examples=1000)
@given(registry=NON_EMPTY_TEXT, root=HOSTILE_TEXT, backup_path=NON_EMPTY_TEXT)
def test_prechecks_values_stay_out_of_script(registry: str, root: str, backup_path: str) -> None:
    try:
        env = environment(backup_path=backup_path)
    except REJECTED:
        env = environment(backup_path="/srv/backup/latest")
    runner = RecordingRunner()
    registry_settings = SimpleNamespace(address=registry)
    ctx = SimpleNamespace(settings=SimpleNamespace(registry=registry_settings), env=env, root=root, runner=runner)

    # The image size comes from the local Docker engine, which unit tests leave alone.
    with mock.patch.object(prechecks_task, "local_image_size_mb", return_value=123):
        prechecks_task.server_results(ctx, ("disk", "backup"), IMAGE)  # type: ignore[arg-type]

    [(argv, stdin)] = runner.calls
    assert stdin == prechecks.SCRIPT.read_text()
    assert argv[:3] == RUN_SCRIPT
    args = argv[3:]
    assert args == prechecks.prechecks_args(
        env, registry=registry, state_dir=root, image_size_mb=123, checks=("disk", "backup")
    )
    # Each value follows its option, in the order prechecks_args writes them.
    assert args[4:6] == ["--state-dir", root]
    assert args[16:20] == ["--registry", registry, "--backup-path", env.backup_path]
    assert args[20:] == ["disk", "backup"]


# An empty version makes run_smoke read the expected version from the deploy history.
@settings(max_examples=1000)
@given(version=NON_EMPTY_TEXT, container=HOSTILE_TEXT, image=HOSTILE_TEXT)
def test_smoke_values_stay_out_of_script(version: str, container: str, image: str) -> None:
    env = tls_environment(tls_ca="/etc/tls/ca.pem")
    runner = RecordingRunner()
    ctx = SimpleNamespace(env=env, runner=runner)

    # proxy_target asks Docker on the server for the serving container, so this test replaces it.
    with mock.patch.object(smoke_task, "proxy_target", return_value=(container, image)):
        smoke_task.run_smoke(ctx, version)  # type: ignore[arg-type]

    [(argv, stdin)] = runner.calls
    assert stdin == smoke.SCRIPT.read_text()
    assert argv[:3] == RUN_SCRIPT
    args = argv[3:]
    assert args == smoke.smoke_args(env, version=version, container=container, image=image)
    # Each value follows its option, in the order smoke_args writes them.
    assert args[2:8] == ["--version", version, "--container", container, "--image", image]
