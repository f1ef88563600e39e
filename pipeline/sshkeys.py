"""Parsing of SSH private keys and known_hosts text, so bad values fail before any connection."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io

import paramiko

from pipeline.errors import InputError

KEY_TYPES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
KNOWN_HOSTS_RULE = "one '<host> <key-type> <base64-key>' entry per line, as ssh-keyscan or ~/.ssh/known_hosts writes"


def normalise_key_text(text: str) -> str:
    # CI secret stores and .env files often carry a key on one line with literal "\n" escapes.
    if "\n" not in text.strip() and "\\n" in text:
        text = text.replace("\\n", "\n")
    return text.strip() + "\n"


def load_private_key(text: str, *, source: str) -> paramiko.PKey:
    """Parse an unencrypted OpenSSH or PEM private key of type ed25519, ECDSA or RSA."""
    text = normalise_key_text(text)
    if "PRIVATE KEY-----" not in text:
        hint = " (this looks like a public key)" if text.startswith(("ssh-", "ecdsa-")) else ""
        raise InputError(
            f"invalid {source}: not a private key{hint}; expected the text of an OpenSSH or PEM private key "
            "that starts with '-----BEGIN OPENSSH PRIVATE KEY-----'"
        )
    for key_type in KEY_TYPES:
        try:
            return key_type.from_private_key(io.StringIO(text))
        except paramiko.PasswordRequiredException:
            raise InputError(
                f"invalid {source}: the key is encrypted with a passphrase; use a deploy key without one"
            ) from None
        except (paramiko.SSHException, ValueError, IndexError, TypeError):
            continue
    raise InputError(
        f"invalid {source}: the private key cannot be read as ed25519, ECDSA or RSA (truncated or damaged?)"
    )


def parse_known_hosts(text: str, *, source: str) -> paramiko.HostKeys:
    """Parse known_hosts text into paramiko host keys; comments and blank lines are skipped."""
    host_keys = paramiko.HostKeys()
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split()
        if stripped.startswith("@") or len(parts) < 3:
            raise InputError(f"invalid {source} line {number}: expected {KNOWN_HOSTS_RULE}")
        try:
            base64.b64decode(parts[2], validate=True)
            entry = paramiko.hostkeys.HostKeyEntry.from_line(stripped, lineno=number)
        except (binascii.Error, paramiko.SSHException, ValueError) as error:
            raise InputError(f"invalid {source} line {number}: {error}; expected {KNOWN_HOSTS_RULE}") from None
        if entry is None:
            raise InputError(f"invalid {source} line {number}: unsupported key type {parts[1]!r}")
        for hostname in entry.hostnames:
            host_keys.add(hostname, entry.key.get_name(), entry.key)
        count += 1
    if count == 0:
        raise InputError(f"invalid {source}: no host keys in it; expected {KNOWN_HOSTS_RULE}")
    return host_keys


def fingerprint(key: paramiko.PKey) -> str:
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"
