from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.commands import docker, probe
from pipeline.validate import TAG_PATTERN

DIGEST = "127.0.0.1:5000/agent-dk@sha256:" + "a" * 64


def release(**overrides: object) -> docker.Release:
    values: dict[str, object] = {
        "name": "agent-dk-uat-v1",
        "alias": "r-0123456789ab",
        "image": DIGEST,
        "environment": "uat",
        "version": "v1",
        "network": "agent-dk-uat",
        "env_file": "/home/deploy/.agent-dk/uat/app.env",
    }
    values.update(overrides)
    return docker.Release(**values)  # type: ignore[arg-type]


def test_run_release_exact() -> None:
    assert docker.run_release(release()) == [
        "docker", "run", "--detach",
        "--name", "agent-dk-uat-v1",
        "--network", "agent-dk-uat",
        "--network-alias", "r-0123456789ab",
        "--env-file", "/home/deploy/.agent-dk/uat/app.env",
        "--user", "10001:10001",
        "--read-only",
        "--tmpfs", "/tmp:rw,noexec,nosuid,size=64m",
        "--security-opt", "no-new-privileges",
        "--cap-drop", "ALL",
        "--memory", "4g",
        "--pids-limit", "512",
        "--restart", "unless-stopped",
        "--health-interval", "1s",
        "--health-timeout", "2s",
        "--health-retries", "3",
        "--health-start-period", "60s",
        "--label", "agent-dk.env=uat",
        "--label", "agent-dk.role=app",
        "--label", "org.opencontainers.image.version=v1",
        "--label", "agent-dk.alias=r-0123456789ab",
        "--", DIGEST,
    ]  # fmt: skip


def test_run_proxy_exact() -> None:
    spec = docker.Proxy(
        name="agent-dk-uat",
        image="nginx:stable",
        environment="uat",
        network="agent-dk-uat",
        config_dir="/home/deploy/.agent-dk/uat/proxy",
        publish_address="127.0.0.1",
        host_port=18080,
    )
    assert docker.run_proxy(spec) == [
        "docker", "run", "--detach",
        "--name", "agent-dk-uat",
        "--network", "agent-dk-uat",
        "--publish", "127.0.0.1:18080:8080",
        "--volume", "/home/deploy/.agent-dk/uat/proxy:/etc/nginx/conf.d:ro",
        "--security-opt", "no-new-privileges",
        "--restart", "unless-stopped",
        "--label", "agent-dk.env=uat",
        "--label", "agent-dk.role=proxy",
        "--label", "agent-dk.tls=off",
        "--", "nginx:stable",
        "nginx", "-g", "daemon off;",
    ]  # fmt: skip


@pytest.mark.parametrize(("gpus", "flag"), [("all", "all"), ("device=0", "device=0"), ("device=0,1", '"device=0,1"')])
def test_run_release_gpus(gpus: str, flag: str) -> None:
    argv = docker.run_release(release(gpus=gpus))
    assert argv[argv.index("--gpus") + 1] == flag


def test_run_release_without_gpus_has_no_flag() -> None:
    assert "--gpus" not in docker.run_release(release(gpus="none"))


def test_list_releases_filters_by_environment() -> None:
    argv = docker.list_releases("stg")
    assert argv[argv.index("--filter") + 1] == "label=agent-dk.env=stg"
    assert "label=agent-dk.role=app" in argv


def test_login_reads_password_from_stdin() -> None:
    assert docker.login("127.0.0.1:5000", "ci") == [
        "docker", "login", "--username", "ci", "--password-stdin", "127.0.0.1:5000",
    ]  # fmt: skip


def test_build_exact() -> None:
    assert docker.build("r/app:v1", build_args={"APP_VERSION": "v1"}, context="/src", dockerfile="/src/Dockerfile") == [
        "docker", "build", "--file", "/src/Dockerfile", "--tag", "r/app:v1", "--build-arg", "APP_VERSION=v1", "/src",
    ]  # fmt: skip


def test_build_rejects_option_context() -> None:
    with pytest.raises(ValueError, match="invalid command operand"):
        docker.build("r/app:v1", build_args={}, context="--output=/")


@pytest.mark.parametrize("name", ["APP=VERSION", "", "1ST", "A B"])
def test_build_rejects_bad_arg_name(name: str) -> None:
    with pytest.raises(ValueError, match="invalid build argument name"):
        docker.build("r/app:v1", build_args={name: "v1"}, context="/src")


@pytest.mark.parametrize("gpus", ['device=0",capabilities=compute,"1', "device=0\ncapabilities=compute", ""])
def test_gpus_value_rejects_csv_breakout(gpus: str) -> None:
    with pytest.raises(ValueError, match="invalid GPU request"):
        docker.gpus_value(gpus)


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


@pytest.mark.parametrize("path", ["@evil.example/version", "", "version"])
def test_probe_url_rejects_path_without_slash(path: str) -> None:
    with pytest.raises(ValueError, match="invalid URL path"):
        probe.local_url("127.0.0.1", 18080, path)


@pytest.mark.parametrize("address", ["fe80::1%x]@evil.example#", "evil.example", "127.0.0.1:80"])
def test_probe_url_rejects_bad_publish_address(address: str) -> None:
    with pytest.raises(ValueError, match="invalid publish address"):
        probe.local_url(address, 18080, "/version")


def test_probe_turns_off_curl_globbing() -> None:
    argv = probe.http_get("http://127.0.0.1:18080/{a,b}", timeout_seconds=2)
    assert "--globoff" in argv
    assert argv[-2:] == ["--", "http://127.0.0.1:18080/{a,b}"]


def test_probe_rejects_non_http_url() -> None:
    with pytest.raises(ValueError, match="invalid probe URL"):
        probe.http_get("file:///etc/passwd", timeout_seconds=2)


@settings(max_examples=1000)
@given(version=st.from_regex(TAG_PATTERN, fullmatch=True), environment=st.text(min_size=1, max_size=40))
def test_run_release_values_stay_single_arguments(version: str, environment: str) -> None:
    argv = docker.run_release(release(version=version, environment=environment))
    # Joined for a remote shell and split again, the argument list must come back unchanged.
    assert shlex.split(shlex.join(argv)) == argv
    assert f"{docker.VERSION_LABEL}={version}" in argv
    assert f"{docker.ENV_LABEL}={environment}" in argv
    assert argv[-2:] == ["--", DIGEST]
