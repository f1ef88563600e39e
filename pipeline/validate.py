"""Validators for values that end up in commands. Each raises InputError naming the value."""

from __future__ import annotations

import ipaddress
import math
import re

from pipeline.errors import InputError

# Docker's tag grammar: https://docs.docker.com/reference/cli/docker/image/tag/
TAG_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
TAG_RULE = "1-128 characters from letters, digits, '_', '.' and '-', not starting with '.' or '-'"

# A registry host with an optional port, as Docker accepts it in an image reference.
REGISTRY_PATTERN = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::[0-9]{1,5})?"
)
REPOSITORY_PATTERN = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
CONTAINER_NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")
HOSTNAME_PATTERN = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
USER_PATTERN = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
GPUS_PATTERN = re.compile(r"all|none|device=[0-9]+(?:,[0-9]+)*")
# An image reference as `docker run` accepts it: [registry/]repository[:tag][@digest].
IMAGE_PATTERN = re.compile(
    r"(?:"
    + REGISTRY_PATTERN.pattern
    + r"/)?"
    + REPOSITORY_PATTERN.pattern
    + r"(?::"
    + TAG_PATTERN.pattern
    + r")?(?:@sha256:[a-f0-9]{64})?"
)


def version_tag(value: str, *, source: str = "--version") -> str:
    if not TAG_PATTERN.fullmatch(value):
        raise InputError(f"invalid {source} {value!r}: a version is a Docker tag of {TAG_RULE}")
    return value


def registry(value: str, *, source: str = "REGISTRY") -> str:
    if "://" in value:
        raise InputError(
            f"invalid {source} {value!r}: give host[:port] without a scheme, e.g. registry.example.internal:5000"
        )
    lowered = value.lower()
    if not REGISTRY_PATTERN.fullmatch(lowered):
        raise InputError(f"invalid {source} {value!r}: expected a registry host name or address with an optional :port")
    _check_port_suffix(lowered, source)
    return lowered


def _check_port_suffix(value: str, source: str) -> None:
    if ":" in value:
        port = int(value.rsplit(":", 1)[1])
        if not 1 <= port <= 65535:
            raise InputError(f"invalid {source} {value!r}: port must be 1-65535")


def repository(value: str, *, source: str) -> str:
    lowered = value.lower()
    if not REPOSITORY_PATTERN.fullmatch(lowered):
        raise InputError(
            f"invalid {source} {value!r}: a repository is lowercase letters, digits "
            "and the separators '.', '_', '-' and '/'"
        )
    return lowered


def image(value: str, *, source: str) -> str:
    if not IMAGE_PATTERN.fullmatch(value):
        raise InputError(f"invalid {source} {value!r}: expected an image reference such as python:3.11-slim")
    return value


def container_name(value: str, *, source: str) -> str:
    if not CONTAINER_NAME_PATTERN.fullmatch(value):
        raise InputError(
            f"invalid {source} {value!r}: a container name starts with a letter or digit "
            "and continues with letters, digits, '_', '.' or '-'"
        )
    return value


def port(value: object, *, source: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InputError(f"invalid {source} {value!r}: expected a port number 1-65535")
    return int(text)


def host(value: str, *, source: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not HOSTNAME_PATTERN.fullmatch(value):
        raise InputError(f"invalid {source} {value!r}: expected a host name or an IP address")
    return value


def user(value: str, *, source: str) -> str:
    if not USER_PATTERN.fullmatch(value):
        raise InputError(f"invalid {source} {value!r}: expected a POSIX user name such as deploy")
    return value


def gpus(value: str, *, source: str) -> str:
    if not isinstance(value, str) or not GPUS_PATTERN.fullmatch(value):
        raise InputError(f'invalid {source} {value!r}: expected "all", "none" or "device=0,1"')
    return value


def ip_address(value: str, *, source: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise InputError(f"invalid {source} {value!r}: expected an IP address such as 0.0.0.0 or 127.0.0.1") from None
    # Python accepts any text after "%" as an IPv6 zone, and the address goes into URLs.
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise InputError(f"invalid {source} {value!r}: expected an IP address without a zone (the part after '%')")
    return str(address)


def positive_number(value: object, *, source: str) -> float:
    # TOML has inf and nan, and "nan <= 0" is false.
    non_finite = isinstance(value, float) and not math.isfinite(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or non_finite or value <= 0:
        raise InputError(f"invalid {source} {value!r}: expected a finite number greater than 0")
    return float(value)


def single_line(value: str, *, source: str, max_length: int = 500) -> str:
    """Accept a non-empty single line of printable text (names, reasons)."""
    stripped = value.strip()
    if not stripped:
        raise InputError(f"invalid {source}: it is empty; give a short single line of text")
    bad = next((char for char in stripped if ord(char) < 32 or ord(char) == 127), None)
    if bad is not None:
        kind = "a newline" if bad in "\r\n" else f"the control character {bad!r}"
        raise InputError(f"invalid {source} {_shorten(stripped)!r}: it contains {kind}; give a single line of text")
    if len(stripped) > max_length:
        raise InputError(f"invalid {source}: {len(stripped)} characters, more than the maximum of {max_length}")
    return stripped


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
