"""Parsing of SSH private keys and known_hosts text, so bad values fail before any connection."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re

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
    """Parse an unencrypted OpenSSH or PEM private key of type ed25519, ECDSA or RSA.

    Messages name the source and what is wrong, and never quote the key text.
    """
    text = normalise_key_text(text)
    problem = private_key_problem(text)
    if problem:
        raise InputError(f"invalid {source}: {problem}")
    for key_type in KEY_TYPES:
        try:
            return key_type.from_private_key(io.StringIO(text))
        except paramiko.PasswordRequiredException:
            raise InputError(f"invalid {source}: {ENCRYPTED}") from None
        except (paramiko.SSHException, ValueError, IndexError, TypeError):
            continue
    raise InputError(
        f"invalid {source}: the key cannot be read as ed25519, ECDSA or RSA, so it is truncated or damaged. "
        "Copy the whole key file again"
    )


PRIVATE_KEY_RULE = (
    "expected an unencrypted OpenSSH or PEM private key, from '-----BEGIN OPENSSH PRIVATE KEY-----' "
    "to '-----END OPENSSH PRIVATE KEY-----'"
)
ENCRYPTED = "the key is encrypted with a passphrase, so use a deploy key without one"
BEGIN_PATTERN = re.compile(r"-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY-----")
END_PATTERN = re.compile(r"-----END ([A-Z0-9 ]*?)PRIVATE KEY-----")
BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]+")
# Header lines of an old-style PEM key, such as "Proc-Type: 4,ENCRYPTED" and "DEK-Info: AES-128-CBC,...".
PEM_HEADER_LINE = re.compile(r"[A-Za-z][A-Za-z0-9-]*: ")
PUBLIC_KEY_HEADERS = ("-----BEGIN PUBLIC KEY-----", "-----BEGIN RSA PUBLIC KEY-----", "---- BEGIN SSH2 PUBLIC KEY ----")


def private_key_problem(text: str) -> str:
    """Return what makes text unusable as a private key, or "" when paramiko should try to read it.

    These are the usual pasting mistakes: a public key or certificate in the private key's place,
    a PuTTY file, lost line breaks, and a key cut off at either end.
    """
    stripped = text.strip()
    if not stripped:
        return f"it is empty: {PRIVATE_KEY_RULE}"
    first_word = stripped.split(maxsplit=1)[0]
    if first_word.startswith("PuTTY-User-Key-File"):
        return "this is a PuTTY key file: convert it with puttygen KEY.ppk -O private-openssh -o KEY and give KEY"
    if first_word.endswith("-cert-v01@openssh.com"):
        return "this is an SSH certificate, not a private key: give the private key that the certificate was issued for"
    if first_word.startswith(("ssh-", "ecdsa-", "sk-")) or stripped.startswith(PUBLIC_KEY_HEADERS):
        return "this is a public key, not a private key: give the private key, the file without .pub"
    if stripped.startswith("-----BEGIN CERTIFICATE-----"):
        return "this is an X.509 certificate, not a private key: give the SSH private key"
    if "-----BEGIN ENCRYPTED PRIVATE KEY-----" in stripped:
        return ENCRYPTED
    begin = BEGIN_PATTERN.search(stripped)
    end = END_PATTERN.search(stripped)
    if begin is None and end is None:
        return f"not a private key: {PRIVATE_KEY_RULE}"
    if begin is None:
        return f"the '-----BEGIN {end[1]}PRIVATE KEY-----' line is missing: copy the whole key file"
    if end is None:
        return (
            f"the '-----END {begin[1]}PRIVATE KEY-----' line is missing, so the key is cut off: copy the whole key file"
        )
    if "\n" not in stripped:
        return (
            "the key is on one line, so its line breaks were lost: keep them, or write each one as \\n in an env file"
        )
    return _body_problem(stripped[begin.end() : end.start()])


def _body_problem(body: str) -> str:
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if not lines:
        return "there is nothing between the BEGIN and END lines: copy the whole key file"
    for number, line in enumerate(lines, start=1):
        if not PEM_HEADER_LINE.match(line) and not BASE64_LINE.fullmatch(line):
            return f"line {number} after the BEGIN line is not base64, so the key is damaged: copy the whole key file"
    return ""


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
            raise InputError(f"invalid line {number} of {source}: expected {KNOWN_HOSTS_RULE}")
        try:
            base64.b64decode(parts[2], validate=True)
            entry = paramiko.hostkeys.HostKeyEntry.from_line(stripped, lineno=number)
        except (binascii.Error, paramiko.SSHException, ValueError) as error:
            raise InputError(f"invalid line {number} of {source}: {error}; expected {KNOWN_HOSTS_RULE}") from None
        if entry is None:
            raise InputError(f"invalid line {number} of {source}: unsupported key type {parts[1]!r}")
        for hostname in entry.hostnames:
            host_keys.add(hostname, entry.key.get_name(), entry.key)
        count += 1
    if count == 0:
        raise InputError(f"invalid {source}: no host keys in it; expected {KNOWN_HOSTS_RULE}")
    return host_keys


def fingerprint(key: paramiko.PKey) -> str:
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"
