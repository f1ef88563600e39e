"""Commands that manage the pipeline's state files on the target."""

from __future__ import annotations

import re

MODE_PATTERN = re.compile(r"0[0-7]{3}")

# Writes stdin to a temporary file beside the target, then renames it into place, so a reader
# never sees half a file. Values arrive as positional parameters, never inside the script.
_WRITE_SCRIPT = 'umask 077 && cat > "$1.tmp" && chmod "$2" "$1.tmp" && mv -f "$1.tmp" "$1"'


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"invalid state path {value!r}: expected an absolute path")
    return value


def home_directory() -> list[str]:
    return ["printenv", "HOME"]


def make_directory(path: str, mode: str = "0700") -> list[str]:
    if not MODE_PATTERN.fullmatch(mode):
        raise ValueError(f"invalid mode {mode!r}")
    return ["mkdir", "-p", "-m", mode, "--", _path(path)]


def write_file(path: str, mode: str = "0600") -> list[str]:
    """Replace `path` atomically with the command's stdin and give it `mode`."""
    if not MODE_PATTERN.fullmatch(mode):
        raise ValueError(f"invalid mode {mode!r}")
    return ["sh", "-c", _WRITE_SCRIPT, "sh", _path(path), mode]


def read_file(path: str) -> list[str]:
    return ["cat", "--", _path(path)]


def append_file(path: str) -> list[str]:
    """Append stdin to `path`, creating it with mode 0600."""
    return ["sh", "-c", 'umask 077 && cat >> "$1"', "sh", _path(path)]
