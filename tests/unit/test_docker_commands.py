from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.commands import docker, probe
from pipeline.validate import TAG_PATTERN

DIGEST = "127.0.0.1:5000/agent-dk@sha256:" + "a" * 64


def app_run(**overrides: object) -> docker.AppRun:
    values: dict[str, object] = {
        "name": "agent-dk-uat",
        "image": DIGEST,
        "environment": "uat",
        "version": "v1",
        "publish_address": "127.0.0.1",
        "host_port": 18080,
    }
    values.update(overrides)
    return docker.AppRun(**values)  # type: ignore[arg-type]


def test_run_app_exact() -> None:
    assert docker.run_app(app_run()) == [
        "docker", "run", "--detach",
        "--name", "agent-dk-uat",
        "--publish", "127.0.0.1:18080:8080",
        "--restart", "unless-stopped",
        "--label", "agent-dk.env=uat",
        "--label", "agent-dk.role=app",
        "--label", "org.opencontainers.image.version=v1",
        "--env", "APP_ENV=uat",
        "--", DIGEST,
    ]  # fmt: skip


@pytest.mark.parametrize(("gpus", "flag"), [("all", "all"), ("device=0", "device=0"), ("device=0,1", '"device=0,1"')])
def test_run_app_gpus(gpus: str, flag: str) -> None:
    argv = docker.run_app(app_run(gpus=gpus))
    assert argv[argv.index("--gpus") + 1] == flag


def test_run_app_without_gpus_has_no_flag() -> None:
    assert "--gpus" not in docker.run_app(app_run(gpus="none"))


def test_login_reads_password_from_stdin() -> None:
    assert docker.login("127.0.0.1:5000", "ci") == [
        "docker", "login", "--username", "ci", "--password-stdin", "127.0.0.1:5000",
    ]  # fmt: skip


def test_build_exact() -> None:
    assert docker.build("r/app:v1", build_args={"APP_VERSION": "v1"}, context="/src", dockerfile="/src/Dockerfile") == [
        "docker", "build", "--file", "/src/Dockerfile", "--tag", "r/app:v1", "--build-arg", "APP_VERSION=v1", "/src",
    ]  # fmt: skip


def test_stop_rename_remove_exact() -> None:
    assert docker.stop("agent-dk-uat", 10) == ["docker", "container", "stop", "--time", "10", "--", "agent-dk-uat"]
    assert docker.rename("a", "b") == ["docker", "container", "rename", "--", "a", "b"]
    assert docker.remove("a", force=True) == ["docker", "container", "rm", "--force", "--", "a"]


@pytest.mark.parametrize("operand", ["", "-rf", "--privileged"])
def test_builders_reject_option_operands(operand: str) -> None:
    with pytest.raises(ValueError, match="invalid command operand"):
        docker.pull(operand)
    with pytest.raises(ValueError, match="invalid command operand"):
        docker.stop(operand, 10)


def test_probe_url_for_wildcard_bind() -> None:
    assert probe.local_url("0.0.0.0", 18080, "/version") == "http://127.0.0.1:18080/version"
    assert probe.local_url("::1", 18080, "/health") == "http://[::1]:18080/health"


def test_probe_rejects_non_http_url() -> None:
    with pytest.raises(ValueError, match="invalid probe URL"):
        probe.http_get("file:///etc/passwd", timeout_seconds=2)


@settings(max_examples=1000)
@given(version=st.from_regex(TAG_PATTERN, fullmatch=True), environment=st.text(min_size=1, max_size=40))
def test_run_app_values_stay_single_arguments(version: str, environment: str) -> None:
    argv = docker.run_app(app_run(version=version, environment=environment))
    # Joined for a remote shell and split again, the argument list must come back unchanged.
    assert shlex.split(shlex.join(argv)) == argv
    assert argv[argv.index("--label", argv.index("agent-dk.role=app")) + 1] == f"{docker.VERSION_LABEL}={version}"
    assert f"APP_ENV={environment}" in argv
