"""The one path every command takes: on the target over SSH, or on this machine.

Both runners take an argument list and join it with shlex, so values are never formatted into a
shell string. They enforce a timeout, check the exit code and log the masked command with its
duration. A failure raises RemoteCommandError with the tail of stderr.
"""

from __future__ import annotations

import logging
import select
import shlex
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import paramiko
from fabric import Config, Connection

from pipeline.config import Target
from pipeline.errors import ConnectionFailed, HostKeyError, RemoteCommandError
from pipeline.secret import Secret, mask_text
from pipeline.sshkeys import fingerprint, load_private_key, parse_known_hosts

log = logging.getLogger("agent_dk")

DEFAULT_TIMEOUT_SECONDS = 120.0
CONNECT_TIMEOUT_SECONDS = 10
STDERR_TAIL_LINES = 5


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Runner(Protocol):
    where: str

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        check: bool = True,
        quiet: bool = False,
    ) -> Result: ...

    def close(self) -> None: ...


class _BaseRunner:
    where = "local"

    def __init__(self, secrets: Iterable[Secret | None] = ()) -> None:
        self._secrets = [secret for secret in secrets if secret]

    def _finish(self, result: Result, *, check: bool, quiet: bool) -> Result:
        command = self.mask(shlex.join(result.argv))
        level = logging.DEBUG if quiet else logging.INFO
        log.log(
            level,
            "  [%s %.2fs] %s%s",
            self.where,
            result.seconds,
            command,
            "" if result.ok else f" (exit {result.exit_code})",
        )
        if check and not result.ok:
            raise RemoteCommandError(
                f"command failed on {self.where} with exit code {result.exit_code}: {command}"
                + _stderr_tail(self.mask(result.stderr or result.stdout)),
                exit_code=result.exit_code,
                stderr=self.mask(result.stderr),
            )
        return result

    def _timed_out(self, argv: Sequence[str], timeout: float) -> RemoteCommandError:
        command = self.mask(shlex.join(argv))
        return RemoteCommandError(f"command timed out after {timeout:g} s on {self.where}: {command}")

    def mask(self, text: str) -> str:
        return mask_text(text, self._secrets)


def _stderr_tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return "\n  " + "\n  ".join(lines[-STDERR_TAIL_LINES:])


class LocalRunner(_BaseRunner):
    """Run commands on the machine that runs the pipeline (docker build, docker push, git)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        check: bool = True,
        quiet: bool = False,
    ) -> Result:
        started = time.monotonic()
        try:
            completed = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=None if stdin is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise self._timed_out(argv, timeout) from None
        except FileNotFoundError:
            raise RemoteCommandError(f"{argv[0]} not found on this machine: install it or fix PATH") from None
        result = Result(
            tuple(argv), completed.returncode, completed.stdout, completed.stderr, time.monotonic() - started
        )
        return self._finish(result, check=check, quiet=quiet)

    def close(self) -> None:
        pass


class _RejectUnknownHost(paramiko.MissingHostKeyPolicy):
    def __init__(self, port: int) -> None:
        self.port = port

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        line = f"{hostname} {key.get_name()} {key.get_base64()}"
        raise HostKeyError(
            f"host key of {hostname} is not in SSH_KNOWN_HOSTS; the server offered {fingerprint(key)}. "
            "Compare that fingerprint with the one the server prints for "
            f"`ssh-keygen -lf /etc/ssh/ssh_host_{_short_type(key)}_key.pub`; if they match, trust it by adding "
            f"this line to SSH_KNOWN_HOSTS: {line}"
        )


def _short_type(key: paramiko.PKey) -> str:
    name = key.get_name()
    for short in ("ed25519", "ecdsa"):
        if short in name:
            return short
    return "rsa"


class SSHRunner(_BaseRunner):
    """Run commands on the target through one SSH connection, opened on first use and reused."""

    def __init__(self, target: Target, secrets: Iterable[Secret | None] = ()) -> None:
        super().__init__([target.key, *secrets])
        self.target = target
        self.where = f"{target.user}@{target.host}:{target.port}"
        self._connection: Connection | None = None

    def _connect(self) -> Connection:
        if self._connection is not None:
            return self._connection
        target = self.target
        key = load_private_key(target.key.reveal(), source="SSH_KEY")
        # load_ssh_configs=False: ~/.ssh/config must not redirect or re-key the connection.
        connection = Connection(
            host=target.host,
            user=target.user,
            port=target.port,
            config=Config(overrides={"load_ssh_configs": False}),
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            connect_kwargs={"pkey": key, "look_for_keys": False, "allow_agent": False},
        )
        # Fabric accepts unknown host keys by default; only the pinned known_hosts counts here.
        client = connection.client
        pinned = parse_known_hosts(target.known_hosts, source="SSH_KNOWN_HOSTS")
        for hostname, keys in pinned.items():
            for key_type, host_key in keys.items():
                client.get_host_keys().add(hostname, key_type, host_key)
        client.set_missing_host_key_policy(_RejectUnknownHost(target.port))
        started = time.monotonic()
        try:
            connection.open()
        except paramiko.BadHostKeyException as error:
            raise HostKeyError(
                f"host key of {self.where} does not match the pinned one: it offered {fingerprint(error.key)}, "
                f"SSH_KNOWN_HOSTS pins {fingerprint(error.expected_key)}. The server was reinstalled or this is "
                "not your server; verify on the server (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before you "
                "replace the line in SSH_KNOWN_HOSTS"
            ) from None
        except paramiko.AuthenticationException:
            raise ConnectionFailed(
                f"SSH login as {target.user} on {target.host}:{target.port} was rejected: "
                "check SSH_USER and that the key's public half is in the user's authorized_keys"
            ) from None
        except HostKeyError:
            raise
        except (TimeoutError, OSError, paramiko.SSHException, EOFError) as error:
            raise ConnectionFailed(f"cannot connect to {self.where}: {error or error.__class__.__name__}") from None
        log.debug("  connected to %s in %.2fs", self.where, time.monotonic() - started)
        self._connection = connection
        return connection

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        check: bool = True,
        quiet: bool = False,
    ) -> Result:
        connection = self._connect()
        started = time.monotonic()
        try:
            exit_code, stdout, stderr = _exec(connection, shlex.join(argv), stdin, timeout)
        except TimeoutError:
            raise self._timed_out(argv, timeout) from None
        except (OSError, EOFError, paramiko.SSHException) as error:
            self._connection = None
            raise ConnectionFailed(f"SSH connection to {self.where} failed during a command: {error}") from None
        result = Result(tuple(argv), exit_code, stdout, stderr, time.monotonic() - started)
        return self._finish(result, check=check, quiet=quiet)

    @contextmanager
    def forward(self, local_port: int, remote_host: str, remote_port: int) -> Iterator[None]:
        """Forward 127.0.0.1:local_port here to remote_host:remote_port as seen from the target."""
        connection = self._connect()
        try:
            with connection.forward_local(
                local_port=local_port, remote_port=remote_port, remote_host=remote_host, local_host="127.0.0.1"
            ):
                yield
        except OSError as error:
            raise ConnectionFailed(
                f"cannot forward 127.0.0.1:{local_port} to {remote_host}:{remote_port} through {self.where}: {error}; "
                "set REGISTRY_TUNNEL_PORT to a free local port"
            ) from None

    def stream(self, argv: Sequence[str]) -> int:
        """Run a command with its output streamed to this terminal and no timeout; return its exit code."""
        connection = self._connect()
        log.debug("  [%s] streaming %s", self.where, self.mask(shlex.join(argv)))
        return connection.run(shlex.join(argv), hide=False, warn=True, in_stream=False).exited

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _exec(connection: Connection, command: str, stdin: str | None, timeout: float) -> tuple[int, str, str]:
    """Run one command on a new channel of the open connection and collect its output.

    Fabric's own stdin forwarding sends one byte per 10 ms poll, which makes writing a config
    file take seconds, so commands run on a raw paramiko channel instead.
    """
    channel = connection.transport.open_session(timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        channel.exec_command(command)
        if stdin is not None:
            channel.sendall(stdin.encode())
        channel.shutdown_write()
        stdout, stderr = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        while True:
            received = False
            while channel.recv_ready():
                stdout += channel.recv(65536)
                received = True
            while channel.recv_stderr_ready():
                stderr += channel.recv_stderr(65536)
                received = True
            # sshd may send the exit status before the last output, so the end is EOF plus the status.
            drained = not channel.recv_ready() and not channel.recv_stderr_ready()
            if drained and channel.exit_status_ready() and (channel.eof_received or channel.closed):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(command)
            if not received:
                select.select([channel], [], [], 0.05)
        exit_code = channel.recv_exit_status()
    finally:
        channel.close()
    return exit_code, stdout.decode(errors="replace"), stderr.decode(errors="replace")
