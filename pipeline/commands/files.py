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


def last_line(path: str) -> list[str]:
    return ["tail", "-n", "1", "--", _path(path)]


def remove_tree(path: str) -> list[str]:
    return ["rm", "-rf", "--", _path(path)]


def is_directory(path: str) -> list[str]:
    return ["test", "-d", _path(path)]


def make_lock(path: str) -> list[str]:
    """Create the lock directory atomically and write stdin into its info.json; exit 1 if it exists."""
    return [
        "sh",
        "-c",
        'mkdir -m 0700 -- "$1" 2>/dev/null || exit 1; umask 077; cat > "$1/info.json"',
        "sh",
        _path(path),
    ]


def remove_lock(path: str, token: str) -> list[str]:
    """Remove the lock directory only when its info.json holds `token`."""
    if not token.isalnum():
        raise ValueError(f"invalid lock token {token!r}")
    return ["sh", "-c", 'grep -q -- "$2" "$1/info.json" 2>/dev/null && rm -rf -- "$1"', "sh", _path(path), token]


# Writes the serving container's inspect JSON, its image and the env file's checksum.
_SNAPSHOT_SCRIPT = (
    'set -e; mkdir -p -m 0700 -- "$1"; docker container inspect -- "$2" > "$1/container.json"; '
    'printf "%s\\n" "$3" > "$1/image"; if [ -f "$4" ]; then sha256sum -- "$4" > "$1/app.env.sha256"; fi'
)
# Removes all but the newest "$2" snapshot directories. The glob lists them oldest first because
# their names sort by time. The loop passes each path to rm as one argument, unlike xargs, which
# splits a path at blanks and quotes.
_PRUNE_SCRIPT = (
    'keep=$2; set -- "$1"/*/; [ -d "$1" ] || exit 0; while [ "$#" -gt "$keep" ]; do rm -rf -- "$1"; shift; done'
)


def snapshot(directory: str, container: str, image: str, env_file: str) -> list[str]:
    """Write a container's inspect JSON, its image and the env file's checksum into `directory`."""
    return ["sh", "-c", _SNAPSHOT_SCRIPT, "sh", _path(directory), container, image, _path(env_file)]


def prune_snapshots(parent: str, keep: int) -> list[str]:
    """Remove all but the newest `keep` snapshot directories under `parent`."""
    if keep < 0:
        raise ValueError(f"invalid number of snapshots to keep {keep!r}: expected 0 or more")
    return ["sh", "-c", _PRUNE_SCRIPT, "sh", _path(parent), str(keep)]
