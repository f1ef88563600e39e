"""Bad inputs a user could plausibly type, as data, with a runner that checks each one is rejected.

Each case runs one invoke task in a subprocess. The runner writes a valid env file and deploy.toml,
changed only by the case, so the case's input is the one thing wrong. The default base env file
points SSH at 127.0.0.1:9, a closed loopback port. A task that missed the bad input would then fail
with a connection error, and assert_rejected would report the wrong message.

CASES lists every case, and CASES_BY_SOURCE groups them by where the input comes from.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from tests.keys import ed25519_private_openssh, ed25519_public_openssh, rsa_private_pem_encrypted

REPO = Path(__file__).resolve().parents[1]
BASE_CONFIG = REPO / "tests" / "integration" / "deploy.test.toml"
# Port 9 (discard) on loopback is closed, so a connection attempt fails at once and reaches no server.
CLOSED_ADDRESS = "127.0.0.1"
CLOSED_PORT = 9
# The Docker CLI of build and push then fails to connect instead of reaching this machine's engine.
CLOSED_DOCKER_HOST = f"tcp://{CLOSED_ADDRESS}:{CLOSED_PORT}"
ENV_FILE_NAME = "bad-input.env"
CONFIG_NAME = "deploy.toml"
CALENDAR_NAME = "freeze.toml"
TIMEOUT_SECONDS = 60


class Delete:
    """A config edit value that removes the key."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = Delete()


@dataclass(frozen=True)
class SameAs:
    """A config edit value copied from another dotted key of the base config, such as environments.uat.port."""

    path: str


@dataclass(frozen=True, kw_only=True)
class Case:
    """One bad input and the one-line error it must produce.

    expected and valid may contain {env_file}, {config}, {calendar} and {workdir}, which
    assert_rejected replaces with the paths the runner wrote.
    """

    id: str
    argv: tuple[str, ...]
    expected: str  # the input's name and value, as the message must show them
    valid: str  # the part of the message that states what is valid
    env: tuple[str, ...] = ()  # lines appended to the base env file, where a later line wins
    config: Mapping[str, object] = field(default_factory=dict)  # dotted key: new value, DELETE or SameAs
    config_append: str = ""  # TOML text appended to the config, for [[freeze]] tables and syntax errors
    calendar: str | None = None  # freeze calendar text, which [project] freeze_calendar then names
    files: Mapping[str, str] = field(default_factory=dict)  # more files to write into workdir
    environ: Mapping[str, str] = field(default_factory=dict)  # process environment on top of the clean one
    exit_code: int = 2
    secrets: tuple[str, ...] = ()  # values that must not appear in stdout or stderr


class CaseRun(subprocess.CompletedProcess[str]):
    """A finished case: the completed process and the files the runner wrote for it."""

    def __init__(self, completed: subprocess.CompletedProcess[str], *, workdir: Path, env_file: Path, config: Path):
        super().__init__(completed.args, completed.returncode, completed.stdout, completed.stderr)
        self.workdir = workdir
        self.env_file = env_file
        self.config = config


# --- TOML text ---------------------------------------------------------------------------


def _dump_table(table: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """Write a parsed TOML document back as TOML text: key/value lines first, then sub-tables."""
    lines = [f"{_key(key)} = {_value(value)}" for key, value in table.items() if not _is_table(value)]
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, value in table.items():
        path = ".".join(_key(part) for part in (*prefix, key))
        if isinstance(value, Mapping):
            text += f"\n[{path}]\n" + _dump_table(value, (*prefix, key))
        elif _is_table(value):
            for item in value:
                text += f"\n[[{path}]]\n" + _dump_table(item, (*prefix, key))
    return text


def _is_table(value: object) -> bool:
    # A table is written as [name], and a non-empty list of tables as [[name]] tables.
    if isinstance(value, Mapping):
        return True
    return isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(key)} = {_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


# --- Key material ----------------------------------------------------------------------------
# Made fresh on each run. The bad keys are damaged copies of a real key, as a user would paste them.

VALID_KEY = ed25519_private_openssh()
KEY_LINES = VALID_KEY.strip().splitlines()
KEY_FIRST_LINE_ONLY = KEY_LINES[0]
KEY_WITHOUT_BEGIN = "\n".join(KEY_LINES[1:]) + "\n"
KEY_CUT_OFF = "\n".join(KEY_LINES[:3]) + "\n"
KEY_TRUNCATED_BODY = "\n".join([KEY_LINES[0], KEY_LINES[1][:40], KEY_LINES[-1]]) + "\n"
KEY_BAD_BASE64 = "\n".join([KEY_LINES[0], "this is not base64: ~~~ !!!", KEY_LINES[-1]]) + "\n"
KEY_JOINED_BY_SPACES = " ".join(KEY_LINES)
KEY_PUBLIC = ed25519_public_openssh()
KEY_SSH_CERTIFICATE = (
    "ssh-ed25519-cert-v01@openssh.com "
    + base64.b64encode(b"\x00\x00\x00\x20ssh-ed25519-cert-v01@openssh.com" + os.urandom(200)).decode()
    + " deploy@ci"
)
KEY_X509_CERTIFICATE = (
    "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(os.urandom(300)).decode() + "-----END CERTIFICATE-----\n"
)
KEY_PUTTY = (
    "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n"
    + base64.encodebytes(os.urandom(51)).decode()
)
KEY_ENCRYPTED = rsa_private_pem_encrypted(b"correct horse battery staple")
KNOWN_HOSTS_LINE = f"[{CLOSED_ADDRESS}]:{CLOSED_PORT} {' '.join(KEY_PUBLIC.split()[:2])}"
REGISTRY_PASSWORD = "hunter2-registry-password"
SLACK_WEBHOOK = f"{CLOSED_ADDRESS}:{CLOSED_PORT}/services/T0000/B0000/slack-token-xxxxxxxxxxxx"
TEAMS_WEBHOOK = f"http://{CLOSED_ADDRESS}:{CLOSED_PORT}/workflows/teams token/xxxxxxxxxxxx"


def quoted(value: str) -> str:
    """Quote a value for an env file, so python-dotenv reads back newlines and quotes unchanged."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def ssh_key(text: str) -> tuple[str, ...]:
    """Env lines that set SSH_KEY and clear SSH_KEY_FILE, which a base env file may set."""
    return (f"SSH_KEY={quoted(text)}", "SSH_KEY_FILE=")


def ssh_key_file(path: str) -> tuple[str, ...]:
    return ("SSH_KEY=", f"SSH_KEY_FILE={path}")


def window(name: str = "bad window", reason: str = "release weekend", **keys: object) -> str:
    """Write a [[freeze]] table from Python values. weekly=(FROM, TO) becomes the weekly inline table."""
    lines = ["[[freeze]]", f"name = {_value(name)}", f"reason = {_value(reason)}"]
    for key, value in keys.items():
        if key == "weekly" and isinstance(value, tuple):
            value = {"from": value[0], "to": value[1]}
        lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


CHRISTMAS = {"start": "2026-12-20T00:00:00+01:00", "end": "2026-12-24T00:00:00+01:00"}
WEEKEND = ("Fri 15:00", "Mon 08:00")


STATUS = ("status", "--env=uat")
TAG_RULE = "1-128 characters from letters, digits"
PORT_RULE = "expected a port number 1-65535"
WEEKDAY_RULE = "expected Mon, Tue, Wed, Thu, Fri, Sat or Sun"
ENVIRONMENTS = "valid environments are uat, stg (staging), prod (production)"


# --- Command-line flags and task names -------------------------------------------------------

FLAG_CASES = [
    Case(id="env-unknown", argv=("deploy", "--env=nope"), expected="unknown environment 'nope'", valid=ENVIRONMENTS),
    Case(id="env-unknown-status", argv=("status", "--env=qa"), expected="unknown environment 'qa'", valid=ENVIRONMENTS),
    Case(
        id="env-uppercase",
        argv=("deploy", "--env=UAT"),
        expected="unknown environment 'UAT'",
        valid="did you mean 'uat'?",
    ),
    Case(id="env-missing", argv=("deploy",), expected="missing --env", valid="give one of uat, stg (staging), prod"),
    Case(id="env-empty", argv=("deploy", "--env="), expected="missing --env", valid="give one of uat"),
    Case(
        id="version-with-slash",
        argv=("build", "--version=feature/x"),
        expected="invalid --version 'feature/x'",
        valid=TAG_RULE,
    ),
    Case(
        id="version-too-long",
        argv=("deploy", "--env=uat", "--version=" + "a" * 129),
        expected=f"invalid --version '{'a' * 129}'",
        valid=TAG_RULE,
    ),
    Case(
        id="version-leading-dot",
        argv=("deploy", "--env=uat", "--version=.v1"),
        expected="invalid --version '.v1'",
        valid="not starting with '.' or '-'",
    ),
    Case(
        id="version-leading-dash",
        argv=("deploy", "--env=uat", "--version=-rc1"),
        expected="invalid --version '-rc1'",
        valid="not starting with '.' or '-'",
    ),
    Case(
        id="version-space-semicolon",
        argv=("deploy", "--env=uat", "--version=bad tag;rm"),
        expected="invalid --version 'bad tag;rm'",
        valid=TAG_RULE,
    ),
    Case(
        id="version-command-substitution",
        argv=("smoke", "--env=uat", "--version=$(whoami)"),
        expected="invalid --version '$(whoami)'",
        valid=TAG_RULE,
    ),
    Case(
        id="rollback-to-slash",
        argv=("rollback", "--env=uat", "--reason=bad release", "--to=feature/x"),
        expected="invalid --to 'feature/x'",
        valid=TAG_RULE,
    ),
    Case(
        id="also-tag-space",
        argv=("push", "--also-tag=bad tag"),
        expected="invalid --also-tag 'bad tag'",
        valid=TAG_RULE,
    ),
    Case(
        id="lock-wait-word",
        argv=("deploy", "--env=uat", "--lock-wait=soon"),
        expected="invalid --lock-wait 'soon'",
        valid="expected a number, 0 or more",
    ),
    Case(
        id="lock-wait-negative",
        argv=("deploy", "--env=uat", "--lock-wait=-5"),
        expected="invalid --lock-wait '-5'",
        valid="expected 0 or more",
    ),
    Case(
        id="lock-wait-nan",
        argv=("deploy", "--env=uat", "--lock-wait=nan"),
        expected="invalid --lock-wait 'nan'",
        valid="expected a number, 0 or more",
    ),
    Case(
        id="lines-negative",
        argv=("logs", "--env=uat", "--lines=-3"),
        expected="invalid --lines '-3'",
        valid="expected 0 or more",
    ),
    Case(
        id="lines-fraction",
        argv=("logs", "--env=uat", "--lines=2.5"),
        expected="invalid --lines '2.5'",
        valid="expected a whole number",
    ),
    Case(
        id="last-word",
        argv=("audit", "--env=uat", "--last=ten"),
        expected="invalid --last 'ten'",
        valid="expected a whole number",
    ),
    Case(
        id="duration-negative",
        argv=("notify", "--env=uat", "--duration=-1"),
        expected="invalid --duration '-1'",
        valid="expected 0 or more",
    ),
    Case(
        id="rollback-reason-missing",
        argv=("rollback", "--env=uat"),
        expected="missing --reason",
        valid="a one-line reason",
    ),
    Case(
        id="rollback-reason-newline",
        argv=("rollback", "--env=uat", "--reason=two\nlines"),
        expected="invalid --reason 'two\\nlines'",
        valid="give a single line of text",
    ),
    Case(
        id="rollback-reason-escape",
        argv=("rollback", "--env=uat", "--reason=\x1b[31mred"),
        expected="invalid --reason '\\x1b[31mred'",
        valid="give a single line of text",
    ),
    Case(
        id="unlock-reason-newline",
        argv=("unlock", "--env=uat", "--reason=stale\nrm -rf /"),
        expected="invalid --reason 'stale\\nrm -rf /'",
        valid="give a single line of text",
    ),
    Case(
        id="unlock-reason-empty",
        argv=("unlock", "--env=uat", "--reason="),
        expected="invalid --reason: it is empty",
        valid="give a short single line of text",
    ),
    Case(
        id="unlock-reason-line-separator",
        argv=("unlock", "--env=uat", "--reason=stale\u2028lock"),
        expected="invalid --reason 'stale\\u2028lock'",
        valid="give a single line of text",
    ),
    Case(
        id="approved-by-newline",
        argv=("deploy", "--env=prod", "--approved-by=alice\nbob"),
        expected="invalid --approved-by 'alice\\nbob'",
        valid="give a single line of text",
    ),
    Case(
        id="only-misspelt",
        argv=("prechecks", "--env=uat", "--only=dsk"),
        expected="invalid --only 'dsk'",
        valid="expected a comma-separated list of",
    ),
    Case(
        id="override-misspelt",
        argv=("deploy", "--env=uat", "--override=freze", "--reason=hotfix"),
        expected="invalid --override 'freze'",
        valid="expected a comma-separated list of freeze",
    ),
    Case(
        id="override-without-reason",
        argv=("deploy", "--env=uat", "--override=freeze"),
        expected="--override=freeze needs --reason",
        valid="--reason=TEXT",
    ),
    Case(
        id="notify-result-unknown",
        argv=("notify", "--env=uat", "--result=great"),
        expected="invalid --result 'great'",
        valid="expected one of succeeded, failed",
    ),
    Case(
        id="security-report-no-path",
        argv=("prechecks", "--env=uat", "--security-report=trivy"),
        expected="invalid --security-report 'trivy'",
        valid="expected SCANNER:PATH",
    ),
    Case(
        id="security-report-missing",
        argv=("prechecks", "--env=uat", "--security-report=trivy:/nonexistent/trivy.json"),
        expected="--security-report file '/nonexistent/trivy.json' not found",
        valid="give the path of",
    ),
    Case(
        id="flag-with-underscore",
        argv=("deploy", "--env=uat", "--image_tag=v1"),
        expected="unknown flag '--image_tag' for task deploy",
        valid="valid flags are --approved-by, --dry-run, --env",
    ),
    Case(
        id="flag-misspelt-env",
        argv=("deploy", "--enviroment=uat"),
        expected="unknown flag '--enviroment' for task deploy",
        valid="did you mean '--env'?",
    ),
    Case(
        id="flag-dry-run-underscore",
        argv=("deploy", "--env=uat", "--dry_run"),
        expected="unknown flag '--dry_run' for task deploy",
        valid="did you mean '--dry-run'?",
    ),
    Case(
        id="flag-missing-value",
        argv=("deploy", "--env"),
        expected="missing value for --env of task deploy",
        valid="give --env=VALUE",
    ),
    Case(
        id="flag-missing-value-before-flag",
        argv=("deploy", "--env", "--dry-run"),
        expected="missing value for --env of task deploy",
        valid="give --env=VALUE",
    ),
    Case(
        id="switch-given-value",
        argv=("deploy", "--env=uat", "--dry-run=yes"),
        expected="--dry-run of task deploy takes no value, got 'yes'",
        valid="give --dry-run on its own",
    ),
    Case(
        id="flag-given-twice",
        argv=("deploy", "--env=uat", "--env", "prod"),
        expected="--env of task deploy is given more than once (again with 'prod')",
        valid="give it once",
    ),
    Case(
        id="value-without-flag",
        argv=("deploy", "uat"),
        expected="unexpected argument 'uat' for task deploy",
        valid="give each value with its flag",
    ),
    Case(
        id="flag-before-task",
        argv=("--env=uat", "deploy"),
        expected="unknown option '--env' before the task name",
        valid="task flags go after the task",
    ),
    Case(
        id="task-misspelt",
        argv=("deplyo",),
        expected="unknown task 'deplyo'",
        valid="did you mean 'deploy'? Valid tasks are audit, build",
    ),
    Case(
        id="task-unknown",
        argv=("ship", "--env=uat"),
        expected="unknown task 'ship'",
        valid="valid tasks are audit, build",
    ),
    Case(
        id="task-misspelt-help",
        argv=("--help", "deplyo"),
        expected="unknown task 'deplyo'",
        valid="did you mean 'deploy'?",
    ),
]


# --- The env file (AGENT_DK_ENV_FILE) and the process environment ----------------------------

ENV_FILE_CASES = [
    Case(
        id="ssh-port-zero",
        argv=STATUS,
        env=("SSH_PORT=0",),
        expected="invalid SSH_PORT '0' in {env_file}",
        valid=PORT_RULE,
    ),
    Case(
        id="ssh-port-too-high",
        argv=STATUS,
        env=("SSH_PORT=70000",),
        expected="invalid SSH_PORT '70000' in {env_file}",
        valid=PORT_RULE,
    ),
    Case(
        id="ssh-port-word",
        argv=STATUS,
        env=("SSH_PORT=abc",),
        expected="invalid SSH_PORT 'abc' in {env_file}",
        valid=PORT_RULE,
    ),
    Case(
        id="ssh-port-negative",
        argv=STATUS,
        env=("SSH_PORT=-22",),
        expected="invalid SSH_PORT '-22' in {env_file}",
        valid=PORT_RULE,
    ),
    Case(
        id="ssh-port-process-env",
        argv=STATUS,
        environ={"SSH_PORT": "22x"},
        expected="invalid SSH_PORT '22x' in the process environment",
        valid=PORT_RULE,
    ),
    Case(
        id="ssh-host-with-port",
        argv=STATUS,
        env=("SSH_HOST=127.0.0.1:22",),
        expected="invalid SSH_HOST '127.0.0.1:22' in {env_file}",
        valid="expected a host name or an IP address",
    ),
    Case(
        id="ssh-host-with-user",
        argv=STATUS,
        env=("SSH_HOST=deploy@127.0.0.1",),
        expected="invalid SSH_HOST 'deploy@127.0.0.1' in {env_file}",
        valid="expected a host name or an IP address",
    ),
    Case(
        id="ssh-user-space",
        argv=STATUS,
        env=("SSH_USER=deploy user",),
        expected="invalid SSH_USER 'deploy user' in {env_file}",
        valid="expected a POSIX user name",
    ),
    Case(
        id="ssh-key-empty",
        argv=STATUS,
        env=ssh_key_file(""),
        expected="missing SSH_KEY or SSH_KEY_FILE",
        valid="set them in {env_file}",
    ),
    Case(
        id="ssh-key-first-line-only",
        argv=STATUS,
        env=ssh_key(KEY_FIRST_LINE_ONLY),
        expected="invalid SSH_KEY in {env_file}",
        valid="'-----END OPENSSH PRIVATE KEY-----' line is missing",
        secrets=(KEY_FIRST_LINE_ONLY,),
    ),
    Case(
        id="ssh-key-cut-off",
        argv=STATUS,
        env=ssh_key(KEY_CUT_OFF),
        expected="invalid SSH_KEY in {env_file}",
        valid="'-----END OPENSSH PRIVATE KEY-----' line is missing",
        secrets=(KEY_CUT_OFF,),
    ),
    Case(
        id="ssh-key-no-begin-line",
        argv=STATUS,
        env=ssh_key(KEY_WITHOUT_BEGIN),
        expected="invalid SSH_KEY in {env_file}",
        valid="'-----BEGIN OPENSSH PRIVATE KEY-----' line is missing",
        secrets=(KEY_WITHOUT_BEGIN,),
    ),
    Case(
        id="ssh-key-truncated-body",
        argv=STATUS,
        env=ssh_key(KEY_TRUNCATED_BODY),
        expected="invalid SSH_KEY in {env_file}",
        valid="truncated or damaged",
        secrets=(KEY_TRUNCATED_BODY,),
    ),
    Case(
        id="ssh-key-bad-base64",
        argv=STATUS,
        env=ssh_key(KEY_BAD_BASE64),
        expected="invalid SSH_KEY in {env_file}",
        valid="not base64",
        secrets=(KEY_BAD_BASE64,),
    ),
    Case(
        id="ssh-key-joined-by-spaces",
        argv=STATUS,
        env=ssh_key(KEY_JOINED_BY_SPACES),
        expected="invalid SSH_KEY in {env_file}",
        valid="the key is on one line",
        secrets=(KEY_JOINED_BY_SPACES,),
    ),
    Case(
        id="ssh-key-public-key",
        argv=STATUS,
        env=ssh_key(KEY_PUBLIC),
        expected="invalid SSH_KEY in {env_file}",
        valid="this is a public key",
        secrets=(KEY_PUBLIC,),
    ),
    Case(
        id="ssh-key-ssh-certificate",
        argv=STATUS,
        env=ssh_key(KEY_SSH_CERTIFICATE),
        expected="invalid SSH_KEY in {env_file}",
        valid="this is an SSH certificate",
        secrets=(KEY_SSH_CERTIFICATE,),
    ),
    Case(
        id="ssh-key-x509-certificate",
        argv=STATUS,
        env=ssh_key(KEY_X509_CERTIFICATE),
        expected="invalid SSH_KEY in {env_file}",
        valid="this is an X.509 certificate",
        secrets=(KEY_X509_CERTIFICATE,),
    ),
    Case(
        id="ssh-key-putty",
        argv=STATUS,
        env=ssh_key(KEY_PUTTY),
        expected="invalid SSH_KEY in {env_file}",
        valid="this is a PuTTY key file",
        secrets=(KEY_PUTTY,),
    ),
    Case(
        id="ssh-key-encrypted",
        argv=STATUS,
        env=ssh_key(KEY_ENCRYPTED),
        expected="invalid SSH_KEY in {env_file}",
        valid="encrypted with a passphrase",
        secrets=(KEY_ENCRYPTED,),
    ),
    Case(
        id="ssh-key-and-key-file",
        argv=STATUS,
        env=(f"SSH_KEY={quoted(VALID_KEY)}", "SSH_KEY_FILE={workdir}/id_ed25519"),
        expected="both SSH_KEY and SSH_KEY_FILE are set in {env_file}",
        valid="keep one of them",
        secrets=(VALID_KEY,),
    ),
    Case(
        id="ssh-key-file-missing",
        argv=STATUS,
        env=ssh_key_file("{workdir}/no-such-key"),
        expected="SSH_KEY_FILE '{workdir}/no-such-key' not found (set in {env_file})",
        valid="give the path of an existing file",
    ),
    Case(
        id="ssh-key-file-directory",
        argv=STATUS,
        env=ssh_key_file("{workdir}"),
        expected="SSH_KEY_FILE '{workdir}' in {env_file} cannot be read",
        valid="it is a directory, so give the path of the private key file",
    ),
    Case(
        id="ssh-key-file-public-key",
        argv=STATUS,
        files={"id_ed25519.pub": KEY_PUBLIC},
        env=ssh_key_file("{workdir}/id_ed25519.pub"),
        expected="invalid SSH_KEY_FILE '{workdir}/id_ed25519.pub' in {env_file}",
        valid="this is a public key",
    ),
    Case(
        id="known-hosts-without-key",
        argv=STATUS,
        env=(f"SSH_KNOWN_HOSTS={CLOSED_ADDRESS} ssh-ed25519", "SSH_KNOWN_HOSTS_FILE="),
        expected="invalid line 1 of SSH_KNOWN_HOSTS in {env_file}",
        valid="expected one '<host> <key-type> <base64-key>' entry per line",
    ),
    Case(
        id="registry-with-scheme",
        argv=STATUS,
        env=("REGISTRY=https://127.0.0.1:9",),
        expected="invalid REGISTRY 'https://127.0.0.1:9' in {env_file}",
        valid="give host[:port] without a scheme",
    ),
    Case(
        id="registry-trailing-slash",
        argv=STATUS,
        env=("REGISTRY=127.0.0.1:9/",),
        expected="invalid REGISTRY '127.0.0.1:9/' in {env_file}",
        valid="expected a registry host name or address",
    ),
    Case(
        id="registry-port-too-high",
        argv=STATUS,
        env=("REGISTRY=127.0.0.1:70000",),
        expected="invalid REGISTRY '127.0.0.1:70000' in {env_file}",
        valid="port must be 1-65535",
    ),
    Case(
        id="registry-space",
        argv=STATUS,
        env=("REGISTRY=my registry:5000",),
        expected="invalid REGISTRY 'my registry:5000' in {env_file}",
        valid="expected a registry host name or address",
    ),
    Case(
        id="registry-empty",
        argv=("deploy", "--env=uat"),
        env=("REGISTRY=",),
        expected="missing REGISTRY",
        valid="host[:port] of the image registry",
    ),
    Case(
        id="registry-password-empty",
        argv=STATUS,
        env=("REGISTRY_USERNAME=ci", "REGISTRY_PASSWORD="),
        expected="REGISTRY_USERNAME and REGISTRY_PASSWORD go together",
        valid="set both or neither",
    ),
    Case(
        id="registry-password-without-user",
        argv=STATUS,
        env=("REGISTRY_USERNAME=", f"REGISTRY_PASSWORD={REGISTRY_PASSWORD}"),
        expected="REGISTRY_USERNAME and REGISTRY_PASSWORD go together",
        valid="set both or neither",
        secrets=(REGISTRY_PASSWORD,),
    ),
    Case(
        id="base-image-uppercase",
        argv=STATUS,
        env=("BASE_IMAGE=Python:3.11-slim",),
        expected="invalid BASE_IMAGE 'Python:3.11-slim' in {env_file}",
        valid="expected an image reference",
    ),
    Case(
        id="base-image-trailing-slash",
        argv=STATUS,
        env=("BASE_IMAGE=python/",),
        expected="invalid BASE_IMAGE 'python/' in {env_file}",
        valid="expected an image reference",
    ),
    Case(
        id="proxy-image-space",
        argv=STATUS,
        env=("PROXY_IMAGE=nginx stable",),
        expected="invalid PROXY_IMAGE 'nginx stable' in {env_file}",
        valid="expected an image reference",
    ),
    Case(
        id="proxy-image-double-dot",
        argv=STATUS,
        env=("PROXY_IMAGE=my..proxy:1",),
        expected="invalid PROXY_IMAGE 'my..proxy:1' in {env_file}",
        valid="expected an image reference",
    ),
    Case(
        id="publish-address-hostname",
        argv=STATUS,
        env=("PUBLISH_ADDRESS=localhost",),
        expected="invalid PUBLISH_ADDRESS 'localhost' in {env_file}",
        valid="expected an IP address",
    ),
    Case(
        id="gpus-override-word",
        argv=STATUS,
        env=("GPUS_OVERRIDE=gpu0",),
        expected="invalid GPUS_OVERRIDE 'gpu0' in {env_file}",
        valid='expected "all", "none" or "device=0,1"',
    ),
    Case(
        id="registry-via-ssh-maybe",
        argv=STATUS,
        env=("REGISTRY_VIA_SSH=maybe",),
        expected="invalid REGISTRY_VIA_SSH 'maybe' in {env_file}",
        valid="expected true or false",
    ),
    Case(
        id="tunnel-port-zero",
        argv=STATUS,
        env=("REGISTRY_TUNNEL_PORT=0",),
        expected="invalid REGISTRY_TUNNEL_PORT '0' in {env_file}",
        valid=PORT_RULE,
    ),
    Case(
        id="build-ca-cert-missing",
        argv=STATUS,
        env=("BUILD_CA_CERT=/nonexistent/ca.pem",),
        expected="BUILD_CA_CERT '/nonexistent/ca.pem' not found (set in {env_file})",
        valid="give the path of a PEM file",
    ),
    Case(
        id="slack-webhook-no-scheme",
        argv=STATUS,
        env=(f"SLACK_WEBHOOK_URL={SLACK_WEBHOOK}",),
        expected="invalid SLACK_WEBHOOK_URL in {env_file}",
        valid="expected an https:// or http:// URL with a host",
        secrets=(SLACK_WEBHOOK,),
    ),
    Case(
        id="teams-webhook-space",
        argv=STATUS,
        env=(f"TEAMS_WEBHOOK_URL={quoted(TEAMS_WEBHOOK)}",),
        expected="invalid TEAMS_WEBHOOK_URL in {env_file}",
        valid="whitespace",
        secrets=(TEAMS_WEBHOOK,),
    ),
    Case(
        id="env-variable-misspelt",
        argv=STATUS,
        env=("SSH_PROT=22",),
        expected="unknown variable 'SSH_PROT' in {env_file}",
        valid="did you mean 'SSH_PORT'?",
    ),
    Case(
        id="env-line-unclosed-quote",
        argv=STATUS,
        env=('SSH_PORT="22',),
        expected="invalid line",
        valid="expected NAME=value",
    ),
    Case(
        id="env-file-missing",
        argv=STATUS,
        environ={"AGENT_DK_ENV_FILE": "{workdir}/missing.env"},
        expected="AGENT_DK_ENV_FILE '{workdir}/missing.env' not found",
        valid="give the path of an environment file",
    ),
]


# --- deploy.toml (AGENT_DK_CONFIG) ------------------------------------------------------------

CONFIG_CASES = [
    Case(
        id="port-zero",
        argv=STATUS,
        config={"environments.uat.port": 0},
        expected="invalid port 0 in [environments.uat] of {config}",
        valid=PORT_RULE,
    ),
    Case(
        id="port-too-high",
        argv=STATUS,
        config={"environments.uat.port": 70000},
        expected="invalid port 70000 in [environments.uat] of {config}",
        valid=PORT_RULE,
    ),
    Case(
        id="port-string",
        argv=STATUS,
        config={"environments.uat.port": "abc"},
        expected="invalid port 'abc' in [environments.uat] of {config}",
        valid=PORT_RULE,
    ),
    Case(
        id="port-negative",
        argv=STATUS,
        config={"environments.stg.port": -1},
        expected="invalid port -1 in [environments.stg] of {config}",
        valid=PORT_RULE,
    ),
    Case(
        id="port-duplicate",
        argv=STATUS,
        config={"environments.stg.port": SameAs("environments.uat.port")},
        expected="in [environments.stg] of {config} is already used by [environments.uat]",
        valid="give each environment its own port",
    ),
    Case(
        id="strategy-key-misspelt-defaults",
        argv=STATUS,
        config={"defaults.stratgy": "recreate"},
        expected="unknown key 'stratgy' in [defaults] of {config}",
        valid="did you mean 'strategy'?",
    ),
    Case(
        id="strategy-key-misspelt-env",
        argv=STATUS,
        config={"environments.prod.stratgy": "recreate"},
        expected="unknown key 'stratgy' in [environments.prod] of {config}",
        valid="did you mean 'strategy'?",
    ),
    Case(
        id="strategy-underscore",
        argv=STATUS,
        config={"environments.prod.strategy": "blue_green"},
        expected="invalid strategy 'blue_green' in [environments.prod] of {config}",
        valid="expected one of blue-green, recreate",
    ),
    Case(
        id="strategy-unknown-default",
        argv=STATUS,
        config={"defaults.strategy": "rolling"},
        expected="invalid strategy 'rolling' in [defaults] of {config}",
        valid="expected one of blue-green, recreate",
    ),
    Case(
        id="ready-timeout-negative",
        argv=STATUS,
        config={"defaults.ready_timeout": -5},
        expected="invalid ready_timeout -5 in [defaults] of {config}",
        valid="expected a finite number greater than 0",
    ),
    Case(
        id="stop-timeout-zero",
        argv=STATUS,
        config={"environments.uat.stop_timeout": 0},
        expected="invalid stop_timeout 0 in [environments.uat] of {config}",
        valid="expected a finite number greater than 0",
    ),
    Case(
        id="timeout-with-unit",
        argv=STATUS,
        config={"environments.uat.ready_timeout": "60s"},
        expected="invalid ready_timeout '60s' in [environments.uat] of {config}",
        valid="expected a finite number greater than 0",
    ),
    Case(
        id="drain-timeout-negative",
        argv=STATUS,
        config={"environments.stg.drain_timeout": -1},
        expected="invalid drain_timeout -1 in [environments.stg] of {config}",
        valid="expected a number of 0 or more",
    ),
    Case(
        id="retain-fraction",
        argv=STATUS,
        config={"defaults.retain": 1.5},
        expected="invalid retain 1.5 in [defaults] of {config}",
        valid="expected a whole number of 0 or more",
    ),
    Case(
        id="image-uppercase",
        argv=STATUS,
        config={"project.image": "Agent-DK"},
        expected="invalid image 'Agent-DK' in [project] of {config}",
        valid="and '/', such as 'agent-dk'",
    ),
    Case(
        id="image-space",
        argv=STATUS,
        config={"project.image": "agent dk"},
        expected="invalid image 'agent dk' in [project] of {config}",
        valid="lowercase letters, digits",
    ),
    Case(
        id="image-double-dot",
        argv=STATUS,
        config={"project.image": "agent..dk"},
        expected="invalid image 'agent..dk' in [project] of {config}",
        valid="lowercase letters, digits",
    ),
    Case(
        id="image-trailing-slash",
        argv=STATUS,
        config={"project.image": "agent-dk/"},
        expected="invalid image 'agent-dk/' in [project] of {config}",
        valid="lowercase letters, digits",
    ),
    Case(
        id="container-space",
        argv=STATUS,
        config={"environments.uat.container": "agent dk uat"},
        expected="invalid container 'agent dk uat' in [environments.uat] of {config}",
        valid="a container name starts with a letter or digit",
    ),
    Case(
        id="approval-string",
        argv=STATUS,
        config={"environments.prod.approval": "yes"},
        expected="invalid approval 'yes' in [environments.prod] of {config}",
        valid="expected true or false",
    ),
    Case(
        id="gpus-number",
        argv=STATUS,
        config={"environments.uat.gpus": 2},
        expected="invalid gpus 2 in [environments.uat] of {config}",
        valid='expected "all", "none" or "device=0,1"',
    ),
    Case(
        id="memory-with-b",
        argv=STATUS,
        config={"defaults.memory": "4GB"},
        expected="invalid memory '4GB' in [defaults] of {config}",
        valid='expected a size such as "4g"',
    ),
    Case(
        id="security-threshold-unknown",
        argv=STATUS,
        config={"defaults.security_threshold": "SEVERE"},
        expected="invalid security_threshold 'SEVERE' in [defaults] of {config}",
        valid="expected one of UNKNOWN, NEGLIGIBLE",
    ),
    Case(
        id="branch-space",
        argv=STATUS,
        config={"environments.uat.branch": "feature x"},
        expected="invalid branch 'feature x' in [environments.uat] of {config}",
        valid="expected a git branch name",
    ),
    Case(
        id="alias-clash",
        argv=STATUS,
        config={"environments.stg.aliases": ["uat"]},
        expected="environment name 'uat' in [environments.stg] of {config} is already used by [environments.uat]",
        valid="give each environment its own names",
    ),
    Case(
        id="port-missing",
        argv=STATUS,
        config={"environments.uat.port": DELETE},
        expected="missing port in [environments.uat] of {config}",
        valid="every environment sets branch, container and port",
    ),
    Case(
        id="app-env-lowercase",
        argv=STATUS,
        config={"environments.uat.app_env": {"log_level": "debug"}},
        expected="invalid app_env name 'log_level' in [environments.uat] of {config}",
        valid="expected uppercase letters, digits and '_'",
    ),
    Case(
        id="backup-path-relative",
        argv=STATUS,
        config={"environments.prod.backup_path": "backups/agent-dk"},
        expected="invalid backup_path 'backups/agent-dk' in [environments.prod] of {config}",
        valid="expected an absolute path on the server",
    ),
    Case(
        id="tls-cert-without-key",
        argv=STATUS,
        config={"environments.prod.tls_cert": "/etc/agent-dk/tls.crt"},
        expected="tls_cert and tls_key in [environments.prod] of {config} go together",
        valid="set both or neither",
    ),
    Case(
        id="environments-misspelt",
        argv=STATUS,
        config={"enviroments.qa.port": 48080},
        expected="unknown key 'enviroments' in {config}",
        valid="did you mean 'environments'?",
    ),
    Case(
        id="toml-unclosed-table",
        argv=STATUS,
        config_append="[environments.qa\n",
        expected="invalid TOML in {config}",
        valid="line",
    ),
    Case(
        id="toml-unquoted-string",
        argv=STATUS,
        config_append='[environments.qa]\nbranch = "qa"\nstrategy = recreate\n',
        expected="invalid TOML in {config}",
        valid="line",
    ),
    Case(
        id="config-missing",
        argv=STATUS,
        environ={"AGENT_DK_CONFIG": "{workdir}/missing.toml"},
        expected="{workdir}/missing.toml not found",
        valid="set AGENT_DK_CONFIG to the path of an existing environments file",
    ),
    Case(
        id="config-directory",
        argv=STATUS,
        environ={"AGENT_DK_CONFIG": "{workdir}"},
        expected="AGENT_DK_CONFIG '{workdir}'",
        valid="is a directory",
    ),
    Case(
        id="freeze-calendar-missing",
        argv=STATUS,
        config={"project.freeze_calendar": "freeze-2026.toml"},
        expected="{workdir}/freeze-2026.toml not found",
        valid="freeze_calendar",
    ),
    Case(
        id="freeze-calendar-directory",
        argv=STATUS,
        config={"project.freeze_calendar": "."},
        expected="freeze_calendar '.' in [project] of {config}",
        valid="is a directory",
    ),
    Case(
        id="freeze-window-in-config",
        argv=STATUS,
        config_append=window(environments=["qa"], **CHRISTMAS),
        expected="unknown environment 'qa' in environments of freeze window 'bad window' in {config}",
        valid=ENVIRONMENTS,
    ),
]


# --- Freeze calendar files ([project] freeze_calendar) ---------------------------------------

CALENDAR_CASES = [
    Case(
        id="freeze-end-before-start",
        argv=STATUS,
        calendar=window(start="2026-12-24T00:00:00+01:00", end="2026-12-20T00:00:00+01:00"),
        expected="freeze window 'bad window' in {calendar}: end '2026-12-20T00:00:00+01:00' is not after start",
        valid="is not after start '2026-12-24T00:00:00+01:00'",
    ),
    Case(
        id="freeze-invalid-date",
        argv=STATUS,
        calendar=window(start="2026-02-30T00:00:00+01:00", end="2026-03-02T00:00:00+01:00"),
        expected="invalid start '2026-02-30T00:00:00+01:00' in freeze window 'bad window' in {calendar}",
        valid="expected an ISO 8601 date and time",
    ),
    Case(
        id="freeze-toml-invalid-date",
        argv=STATUS,
        calendar=window() + "start = 2026-02-30T00:00:00Z\nend = 2026-03-02T00:00:00Z\n",
        expected="invalid TOML in {calendar}",
        valid="line",
    ),
    Case(
        id="freeze-date-without-time",
        argv=STATUS,
        calendar=window(start="2026-12-20T00:00:00+01:00", end="2026-12-24"),
        expected="invalid end '2026-12-24' in freeze window 'bad window' in {calendar}",
        valid="expected an ISO 8601 date and time",
    ),
    Case(
        id="freeze-no-offset-no-zone",
        argv=STATUS,
        calendar=window(start="2026-12-20T00:00:00", end="2026-12-24T00:00:00"),
        expected="missing timezone in freeze window 'bad window' in {calendar}",
        valid="set timezone to an IANA name",
    ),
    Case(
        id="freeze-unknown-zone",
        argv=STATUS,
        calendar=window(weekly=WEEKEND, timezone="Europe/Berln"),
        expected="unknown timezone 'Europe/Berln' in freeze window 'bad window' in {calendar}",
        valid="expected an IANA time zone name",
    ),
    Case(
        id="freeze-zone-abbreviation",
        argv=STATUS,
        calendar=window(weekly=WEEKEND, timezone="CEST"),
        expected="unknown timezone 'CEST' in freeze window 'bad window' in {calendar}",
        valid="expected an IANA time zone name",
    ),
    Case(
        id="freeze-weekday-misspelt",
        argv=STATUS,
        calendar=window(weekly=("Fry 15:00", "Mon 08:00"), timezone="Europe/Berlin"),
        expected="invalid weekday 'Fry' in weekly.from 'Fry 15:00' of freeze window 'bad window' in {calendar}",
        valid=WEEKDAY_RULE,
    ),
    Case(
        id="freeze-weekday-thurs",
        argv=STATUS,
        calendar=window(weekly=("Thurs 18:00", "Fri 08:00"), timezone="Europe/Berlin"),
        expected="invalid weekday 'Thurs' in weekly.from 'Thurs 18:00'",
        valid=WEEKDAY_RULE,
    ),
    Case(
        id="freeze-time-25",
        argv=STATUS,
        calendar=window(weekly=("Fri 25:00", "Mon 08:00"), timezone="Europe/Berlin"),
        expected="invalid time '25:00' in weekly.from 'Fri 25:00' of freeze window 'bad window' in {calendar}",
        valid="expected HH:MM from 00:00 to 23:59",
    ),
    Case(
        id="freeze-time-am-pm",
        argv=STATUS,
        calendar=window(weekly=("Fri 3pm", "Mon 08:00"), timezone="Europe/Berlin"),
        expected="invalid time '3pm' in weekly.from 'Fri 3pm'",
        valid="expected HH:MM from 00:00 to 23:59",
    ),
    Case(
        id="freeze-weekly-zero-length",
        argv=STATUS,
        calendar=window(weekly=("Fri 15:00", "Fri 15:00"), timezone="Europe/Berlin"),
        expected="weekly.from 'Fri 15:00' equals weekly.to 'Fri 15:00'",
        valid="the window has zero length",
    ),
    Case(
        id="freeze-weekly-without-zone",
        argv=STATUS,
        calendar=window(weekly=WEEKEND),
        expected="missing timezone in freeze window 'bad window' in {calendar}",
        valid="a weekly window needs an IANA time zone name",
    ),
    Case(
        id="freeze-dated-and-weekly",
        argv=STATUS,
        calendar=window(**CHRISTMAS, weekly=WEEKEND, timezone="Europe/Berlin"),
        expected="invalid freeze window 'bad window' in {calendar}: it sets both start/end and weekly",
        valid="a window is either dated or weekly",
    ),
    Case(
        id="freeze-empty-file",
        argv=STATUS,
        calendar="",
        expected="freeze calendar {calendar} has no [[freeze]] tables",
        valid="add at least one",
    ),
    Case(
        id="freeze-unknown-top-key",
        argv=STATUS,
        calendar=window(**CHRISTMAS).replace("[[freeze]]", "[[frezee]]"),
        expected="unknown key 'frezee' in {calendar}",
        valid="did you mean 'freeze'?",
    ),
    Case(
        id="freeze-unknown-window-key",
        argv=STATUS,
        calendar=window(start=CHRISTMAS["start"], ends=CHRISTMAS["end"]),
        expected="unknown key 'ends' in freeze window 'bad window' in {calendar}",
        valid="did you mean 'end'?",
    ),
    Case(
        id="freeze-unknown-environment",
        argv=STATUS,
        calendar=window(environments=["production", "qa"], **CHRISTMAS),
        expected="unknown environment 'qa' in environments of freeze window 'bad window' in {calendar}",
        valid=ENVIRONMENTS,
    ),
    Case(
        id="freeze-environments-string",
        argv=STATUS,
        calendar=window(environments="prod", **CHRISTMAS),
        expected="invalid environments 'prod' in freeze window 'bad window' in {calendar}",
        valid='expected a list of environment names such as ["prod"]',
    ),
    Case(
        id="freeze-duplicate-name",
        argv=STATUS,
        calendar=window(**CHRISTMAS) * 2,
        expected="duplicate freeze window name 'bad window' in {calendar}",
        valid="rename one",
    ),
    Case(
        id="freeze-reason-newline",
        argv=STATUS,
        calendar=window(name="xmas", reason="code freeze\nno deploys", **CHRISTMAS),
        expected="invalid reason 'code freeze\\nno deploys' in freeze window 'xmas' in {calendar}",
        valid="a non-empty single-line string",
    ),
    Case(
        id="freeze-toml-syntax",
        argv=STATUS,
        calendar='[[freeze]\nname = "xmas"\n',
        expected="invalid TOML in {calendar}",
        valid="line",
    ),
]


CASES_BY_SOURCE = {
    "command line": FLAG_CASES,
    "env file": ENV_FILE_CASES,
    "deploy.toml": CONFIG_CASES,
    "freeze calendar": CALENDAR_CASES,
}
CASES = [case for cases in CASES_BY_SOURCE.values() for case in cases]


# --- Runner ----------------------------------------------------------------------------------


@functools.cache
def default_base_env() -> str:
    """Return a valid env file aimed at the closed loopback port, with a key made for this run."""
    return "\n".join(
        [
            f"SSH_HOST={CLOSED_ADDRESS}",
            f"SSH_PORT={CLOSED_PORT}",
            "SSH_USER=deploy",
            f"SSH_KEY={quoted(VALID_KEY)}",
            f"SSH_KNOWN_HOSTS={quoted(KNOWN_HOSTS_LINE)}",
            f"REGISTRY={CLOSED_ADDRESS}:{CLOSED_PORT}",
            "GPUS_OVERRIDE=none",
            "",
        ]
    )


def run_case(
    case: Case,
    workdir: Path,
    *,
    base_env: Path | None = None,
    base_config: Path | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> CaseRun:
    """Write the case's files into workdir and run its invoke command in the repository.

    base_env and base_config are valid files that the case changes; by default a generated env
    file aimed at 127.0.0.1:9 and tests/integration/deploy.test.toml. The process gets a clean
    environment: PATH, AGENT_DK_ENV_FILE, AGENT_DK_CONFIG, DOCKER_HOST aimed at the closed port,
    and the case's own variables.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env_text = base_env.read_text() if base_env is not None else default_base_env()
    env_file = workdir / ENV_FILE_NAME
    env_file.write_text(env_text.rstrip("\n") + "\n" + "".join(_fill(line, workdir) + "\n" for line in case.env))

    config_file = workdir / CONFIG_NAME
    config_file.write_text(_config_text(case, base_config or BASE_CONFIG, workdir))
    if case.calendar is not None:
        (workdir / CALENDAR_NAME).write_text(case.calendar)
    for name, text in case.files.items():
        (workdir / name).write_text(text)

    environ = {
        "PATH": "/usr/bin:/bin",
        "DOCKER_HOST": CLOSED_DOCKER_HOST,
        "AGENT_DK_ENV_FILE": str(env_file),
        "AGENT_DK_CONFIG": str(config_file),
    }
    environ.update({name: _fill(value, workdir) for name, value in case.environ.items()})
    completed = subprocess.run(
        [sys.executable, "-m", "invoke", *case.argv],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CaseRun(completed, workdir=workdir, env_file=env_file, config=config_file)


def assert_rejected(case: Case, completed: CaseRun) -> None:
    """Check that the task rejected the input: the exit code, one ERROR line naming it, and no secret shown."""
    stderr_lines = completed.stderr.splitlines()
    output = completed.stdout + completed.stderr
    report = (
        f"case {case.id}: exit code {completed.returncode}\nstdout: {completed.stdout!r}\nstderr: {completed.stderr!r}"
    )

    assert "Traceback" not in output, report
    assert completed.returncode == case.exit_code, report
    assert len(stderr_lines) == 1, report
    assert stderr_lines[0].startswith("ERROR: "), report
    assert _fill(case.expected, completed.workdir, completed) in stderr_lines[0], report
    assert _fill(case.valid, completed.workdir, completed) in stderr_lines[0], report
    assert completed.stdout == "", report
    for fragment in secret_fragments(case.secrets):
        assert fragment not in output, f"case {case.id}: a secret appears in the output"


def secret_fragments(secrets: tuple[str, ...]) -> set[str]:
    """Return each secret and each long word of it, because a key can leak one line at a time.

    PEM armour lines such as -----BEGIN OPENSSH PRIVATE KEY----- are left out, because messages
    quote them as the expected format.
    """
    fragments = set()
    for secret in secrets:
        fragments.add(secret)
        for word in re.split(r"\s+|\\n", secret):
            if len(word) >= 16 and not word.startswith("-----"):
                fragments.add(word)
    fragments.discard("")
    return fragments


def _fill(text: str, workdir: Path, completed: CaseRun | None = None) -> str:
    # str.replace rather than str.format: cases contain braces of their own, such as TOML inline tables.
    text = text.replace("{workdir}", str(workdir)).replace("{calendar}", str(workdir / CALENDAR_NAME))
    if completed is not None:
        text = text.replace("{env_file}", str(completed.env_file)).replace("{config}", str(completed.config))
    return text


def _config_text(case: Case, base_config: Path, workdir: Path) -> str:
    base = tomllib.loads(base_config.read_text())
    config = copy.deepcopy(base)
    calendar = config.get("project", {}).get("freeze_calendar")
    if calendar:
        # The copy lives in workdir, so a calendar path relative to the base file needs its folder.
        config["project"]["freeze_calendar"] = str(base_config.parent / calendar)
    if case.calendar is not None:
        config.setdefault("project", {})["freeze_calendar"] = CALENDAR_NAME
    for path, value in case.config.items():
        if isinstance(value, SameAs):
            value = _lookup(base, value.path)
        _set(config, path, value)
    return _fill(_dump_table(config) + case.config_append, workdir)


def _lookup(config: dict[str, Any], path: str) -> Any:
    value: Any = config
    for key in path.split("."):
        value = value[key]
    return value


def _set(config: dict[str, Any], path: str, value: object) -> None:
    *parents, last = path.split(".")
    table = config
    for key in parents:
        table = table.setdefault(key, {})
    if isinstance(value, Delete):
        table.pop(last, None)
    else:
        table[last] = value
