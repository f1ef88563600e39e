"""Validators for values that end up in commands. Each raises InputError naming the value.

source names the setting or flag, such as SSH_PORT or port. where, when given, names the place
the value was set in, such as an env file or "[environments.uat] of deploy.toml", and follows the value
in the message.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
import unicodedata
from collections.abc import Callable, Iterable

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


def registry(value: str, *, source: str = "REGISTRY", where: str = "") -> str:
    if "://" in value:
        raise InputError(
            f"invalid {source} {value!r}{_in(where)}: give host[:port] without a scheme, "
            "e.g. registry.example.internal:5000"
        )
    lowered = value.lower()
    if not REGISTRY_PATTERN.fullmatch(lowered):
        raise InputError(
            f"invalid {source} {value!r}{_in(where)}: expected a registry host name or address with an optional :port"
        )
    if ":" in lowered and not 1 <= int(lowered.rsplit(":", 1)[1]) <= 65535:
        raise InputError(f"invalid {source} {value!r}{_in(where)}: port must be 1-65535")
    return lowered


def repository(value: str, *, source: str, where: str = "") -> str:
    if not REPOSITORY_PATTERN.fullmatch(value):
        # Docker rejects uppercase repository names, so suggest the lowercase name rather than change it.
        hint = f", such as {value.lower()!r}" if REPOSITORY_PATTERN.fullmatch(value.lower()) else ""
        raise InputError(
            f"invalid {source} {value!r}{_in(where)}: a repository name is lowercase letters, digits "
            f"and the separators '.', '_', '-' and '/'{hint}"
        )
    return value


def image(value: str, *, source: str, where: str = "", example: str = "python:3.11-slim") -> str:
    if not IMAGE_PATTERN.fullmatch(value):
        raise InputError(f"invalid {source} {value!r}{_in(where)}: expected an image reference such as {example}")
    return value


def container_name(value: str, *, source: str, where: str = "") -> str:
    if not CONTAINER_NAME_PATTERN.fullmatch(value):
        raise InputError(
            f"invalid {source} {value!r}{_in(where)}: a container name starts with a letter or digit "
            "and continues with letters, digits, '_', '.' or '-'"
        )
    return value


def port(value: object, *, source: str, where: str = "") -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InputError(f"invalid {source} {value!r}{_in(where)}: expected a port number 1-65535")
    return int(text)


def host(value: str, *, source: str, where: str = "") -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not HOSTNAME_PATTERN.fullmatch(value):
        raise InputError(f"invalid {source} {value!r}{_in(where)}: expected a host name or an IP address")
    return value


def user(value: str, *, source: str, where: str = "") -> str:
    if not USER_PATTERN.fullmatch(value):
        raise InputError(f"invalid {source} {value!r}{_in(where)}: expected a POSIX user name such as deploy")
    return value


def gpus(value: str, *, source: str, where: str = "") -> str:
    if not isinstance(value, str) or not GPUS_PATTERN.fullmatch(value):
        raise InputError(f'invalid {source} {value!r}{_in(where)}: expected "all", "none" or "device=0,1"')
    return value


def ip_address(value: str, *, source: str, where: str = "") -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise InputError(
            f"invalid {source} {value!r}{_in(where)}: expected an IP address such as 0.0.0.0 or 127.0.0.1"
        ) from None
    # Python accepts any text after "%" as an IPv6 zone, and the address goes into URLs.
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise InputError(
            f"invalid {source} {value!r}{_in(where)}: expected an IP address without a zone (the part after '%')"
        )
    return str(address)


def positive_number(value: object, *, source: str, where: str = "") -> float:
    # TOML has inf and nan, and "nan <= 0" is false.
    non_finite = isinstance(value, float) and not math.isfinite(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or non_finite or value <= 0:
        raise InputError(f"invalid {source} {value!r}{_in(where)}: expected a finite number greater than 0")
    return float(value)


# Characters that end a line in some terminal or editor, besides \r and \n.
LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def single_line(value: str, *, source: str, max_length: int = 500) -> str:
    """Accept a non-empty single line of printable text (names, reasons).

    Control characters (Unicode category Cc, which includes the C1 range such as U+0085) and
    the Unicode line and paragraph separators are rejected, because a terminal or log viewer
    may start a new line or run an escape sequence for them.
    """
    stripped = value.strip()
    if not stripped:
        raise InputError(f"invalid {source}: it is empty; give a short single line of text")
    bad = next((char for char in stripped if unicodedata.category(char) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        kind = "a newline" if bad in "\r\n" + LINE_BREAKS else f"the control character {bad!r}"
        raise InputError(f"invalid {source} {_shorten(stripped)!r}: it contains {kind}; give a single line of text")
    if len(stripped) > max_length:
        raise InputError(f"invalid {source}: {len(stripped)} characters, more than the maximum of {max_length}")
    return stripped


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def choices(
    typed: str, candidates: Iterable[str], noun: str, *, listed: str = "", normalise: Callable[[str], str] = str.lower
) -> str:
    """Describe the valid choices for a message, led by "did you mean 'X'?" when one is close to typed.

    listed replaces the comma-separated candidates in the text, for lists that show more than
    the names, such as aliases. normalise maps typed and candidates to the form they are compared in.
    """
    names = list(candidates)
    by_form = {normalise(name): name for name in names}
    wanted = normalise(typed)
    close = difflib.get_close_matches(wanted, list(by_form), n=1, cutoff=0.6)
    if not close:
        # A longer spelling of a short name, such as --environment for --env, starts with it.
        close = [form for form in by_form if len(form) >= 3 and wanted.startswith(form)][:1]
    listed = listed or ", ".join(names)
    if close:
        return f"did you mean {by_form[close[0]]!r}? Valid {noun} are {listed}"
    return f"valid {noun} are {listed}"


def _in(where: str) -> str:
    return f" in {where}" if where else ""
