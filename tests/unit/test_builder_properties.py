"""Property tests: no value given to a file, probe, scanner or script builder can add an argument
or a shell command. The Docker builders' cases are in test_docker_properties.py and run here too.

tests/unit/property_support.py describes the check each case runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.commands import files, prechecks, probe, security, smoke
from tests.unit.property_support import (
    NON_EMPTY_TEXT,
    NUMBER_OR_TEXT,
    ArgvCase,
    build_accepted,
    check_value_in_place,
    environment,
    option_value,
    split_by_shell,
    tls_environment,
)
from tests.unit.test_docker_properties import CASES as DOCKER_CASES

IMAGE = "registry.test:5000/agent-dk:v1"
NAME = "agent-dk-uat-v1"
STATE_DIR = "/home/deploy/.agent-dk/uat"
LOCK = f"{STATE_DIR}/lock"
SNAPSHOT = f"{STATE_DIR}/backups/1"
ENV_FILE = f"{STATE_DIR}/app.env"
VERSION_URL = "http://127.0.0.1:18080/version"


def url_target_kept(host: str, port: int) -> Callable[[list[str], Any], None]:
    def check(argv: list[str], value: object) -> None:
        url = urlsplit(argv[-1])
        assert url.hostname == host
        assert url.port == port
        assert url.username is None
        # curl expands {a,b} and [1-9] in a URL into several requests unless globbing is off.
        assert "--globoff" in argv

    return check


def local_url_target_kept(argv: list[str], address: str) -> None:
    expected = "127.0.0.1" if address in ("0.0.0.0", "::") else address.lower()
    url_target_kept(expected, 18080)(argv, address)


def tls_target_kept(argv: list[str], host: str) -> None:
    url_target_kept(host.lower(), 18080)(argv, host)
    assert option_value(argv, "--resolve").split(":") == [host, "18080", "127.0.0.1"]


def environment_get(path: str = "/version", **settings: object) -> list[str]:
    return probe.environment_get(tls_environment(**settings), "127.0.0.1", path, timeout_seconds=2)


def prechecks_args(env_name: str = "uat", env_settings: dict[str, object] | None = None, **overrides: Any) -> list[str]:
    values = {"registry": "registry.test:5000", "state_dir": STATE_DIR, "image_size_mb": 123, "checks": ("disk",)}
    env = environment(env_name, **{"backup_path": "/srv/backup/latest", **(env_settings or {})})
    return prechecks.prechecks_args(env, **{**values, **overrides})


def smoke_args(env_settings: dict[str, object] | None = None, **overrides: Any) -> list[str]:
    values = {"version": "v1", "container": NAME, "image": IMAGE}
    env = tls_environment(**{"tls_ca": "/etc/tls/ca.pem", **(env_settings or {})})
    return smoke.smoke_args(env, **{**values, **overrides})


def scanner_arguments(image_ref: str) -> list[str]:
    return [argument for argv in security.scanner_commands(image_ref).values() for argument in argv]


# The values in "sh -c SCRIPT sh VALUE..." are positional parameters, and every case also checks
# that the script text does not change with the value.
CASES = [
    ArgvCase("files.make_directory path", files.make_directory, STATE_DIR, operand=True),
    ArgvCase("files.make_directory mode", lambda v: files.make_directory(STATE_DIR, v), "0700"),
    ArgvCase("files.write_file path", files.write_file, ENV_FILE),
    ArgvCase("files.write_file mode", lambda v: files.write_file(ENV_FILE, v), "0640"),
    ArgvCase("files.read_file", files.read_file, ENV_FILE, operand=True),
    ArgvCase("files.append_file", files.append_file, f"{STATE_DIR}/audit.jsonl"),
    ArgvCase("files.last_line", files.last_line, f"{STATE_DIR}/audit.jsonl", operand=True),
    ArgvCase("files.remove_tree", files.remove_tree, f"{STATE_DIR}/old", operand=True),
    ArgvCase("files.is_directory", files.is_directory, LOCK, operand=True),
    ArgvCase("files.make_lock", files.make_lock, LOCK),
    ArgvCase("files.remove_lock path", lambda v: files.remove_lock(v, "abc123"), LOCK),
    ArgvCase("files.remove_lock token", lambda v: files.remove_lock(LOCK, v), "abc123"),
    ArgvCase("files.snapshot directory", lambda v: files.snapshot(v, NAME, IMAGE, ENV_FILE), SNAPSHOT),
    ArgvCase("files.snapshot container", lambda v: files.snapshot(SNAPSHOT, v, IMAGE, ENV_FILE), NAME),
    ArgvCase("files.snapshot image", lambda v: files.snapshot(SNAPSHOT, NAME, v, ENV_FILE), IMAGE),
    ArgvCase("files.snapshot env_file", lambda v: files.snapshot(SNAPSHOT, NAME, IMAGE, v), ENV_FILE),
    ArgvCase("files.prune_snapshots parent", lambda v: files.prune_snapshots(v, 20), f"{STATE_DIR}/backups"),
    ArgvCase("files.prune_snapshots keep", lambda v: files.prune_snapshots("/b", v), 20, values=st.integers()),
    ArgvCase("probe.http_get url", lambda v: probe.http_get(v, timeout_seconds=2), VERSION_URL, operand=True),
    ArgvCase(
        "probe.http_get timeout",
        lambda v: probe.http_get(VERSION_URL, timeout_seconds=v),
        2.5,
        ("{:g}",),
        values=st.floats(),
    ),
    ArgvCase(
        "probe.local_url address",
        lambda v: probe.http_get(probe.local_url(v, 18080, "/version"), timeout_seconds=2),
        "127.0.0.1",
        (lambda v: probe.local_url(v, 18080, "/version"),),
        check=local_url_target_kept,
    ),
    ArgvCase(
        "probe.local_url path",
        lambda v: probe.http_get(probe.local_url("127.0.0.1", 18080, v), timeout_seconds=2),
        "/version",
        ("http://127.0.0.1:18080{}",),
        check=url_target_kept("127.0.0.1", 18080),
    ),
    ArgvCase(
        "probe.environment_get path",
        environment_get,
        "/version",
        ("https://uat.example.com:18080{}",),
        check=url_target_kept("uat.example.com", 18080),
    ),
    ArgvCase(
        "probe.environment_get tls_host",
        lambda v: environment_get(tls_host=v),
        "uat.example.com",
        ("{}:18080:127.0.0.1", "https://{}:18080/version"),
        check=tls_target_kept,
    ),
    ArgvCase(
        "probe.environment_get tls_ca",
        lambda v: environment_get(tls_ca=v),
        "/etc/tls/ca.pem",
        # Without a CA file curl gets --insecure in place of --cacert FILE.
        values=NON_EMPTY_TEXT,
    ),
    ArgvCase("security.trivy", security.trivy, IMAGE, operand=True),
    ArgvCase("security.grype", security.grype, IMAGE, operand=True),
    ArgvCase("security.scanner_commands", scanner_arguments, IMAGE, operand=True),
    # scripts/prechecks.sh and scripts/smoke_test.sh take the argument after an option as its value,
    # even when it starts with "-". The checks come after the options.
    ArgvCase("prechecks.prechecks_args env name", lambda v: prechecks_args(env_name=v), "uat"),
    ArgvCase(
        "prechecks.prechecks_args registry",
        lambda v: prechecks_args(registry=v),
        "registry.test:5000",
        # No registry leaves --registry out.
        values=NON_EMPTY_TEXT,
    ),
    ArgvCase("prechecks.prechecks_args state_dir", lambda v: prechecks_args(state_dir=v), STATE_DIR),
    ArgvCase(
        "prechecks.prechecks_args image_size_mb", lambda v: prechecks_args(image_size_mb=v), 123, values=NUMBER_OR_TEXT
    ),
    ArgvCase("prechecks.prechecks_args check", lambda v: prechecks_args(checks=(v,)), "disk", operand=True),
    ArgvCase("prechecks.prechecks_args gpus", lambda v: prechecks_args(env_settings={"gpus": v}), "device=0,1"),
    ArgvCase(
        "prechecks.prechecks_args backup_path",
        lambda v: prechecks_args(env_settings={"backup_path": v}),
        "/srv/backup/latest",
        # No backup path leaves --backup-path out.
        values=NON_EMPTY_TEXT,
    ),
    ArgvCase("smoke.smoke_args version", lambda v: smoke_args(version=v), "v1"),
    ArgvCase("smoke.smoke_args container", lambda v: smoke_args(container=v), NAME),
    ArgvCase("smoke.smoke_args image", lambda v: smoke_args(image=v), IMAGE),
    ArgvCase("smoke.smoke_args gpus", lambda v: smoke_args({"gpus": v}), "device=0,1"),
    ArgvCase("smoke.smoke_args tls_host", lambda v: smoke_args({"tls_host": v}), "uat.example.com"),
    ArgvCase(
        "smoke.smoke_args tls_ca",
        lambda v: smoke_args({"tls_ca": v}),
        "/etc/tls/ca.pem",
        # No CA file leaves --tls-ca out.
        values=NON_EMPTY_TEXT,
    ),
]
# The Docker builders' cases live in test_docker_properties.py; both tables run through these tests.
PARAMS = [pytest.param(case, id=case.id) for case in [*DOCKER_CASES, *CASES]]


@pytest.mark.parametrize("case", PARAMS)
@settings(max_examples=1000)
@given(data=st.data())
def test_value_stays_in_its_argument(case: ArgvCase, data: st.DataObject) -> None:
    check_value_in_place(case, data.draw(case.values, label="value"))


# sshd runs the joined command with the deploy user's login shell, often bash, so sh and bash both
# check it. Each example starts two shells, so this takes 20 lists of up to 10 values per case. The
# test above covers 1000 values per case without starting a process.
@pytest.mark.parametrize("case", PARAMS)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_shell_passes_argv_unchanged(case: ArgvCase, data: st.DataObject) -> None:
    commands = build_accepted(case, data.draw(st.lists(case.values, min_size=1, max_size=10), label="values"))
    for shell in ("sh", "bash"):
        assert split_by_shell(shell, commands) == commands


@pytest.mark.parametrize("value", ["a b", "$(echo pwned)", "a; echo pwned"])
def test_shell_check_catches_naive_join(value: str) -> None:
    # Joining with spaces, as a careless runner might, must fail the comparison.
    commands = [["cat", "--", value]]
    assert split_by_shell("sh", commands, join=" ".join) != commands
