"""Hostile values and checks for the property tests of the command builders.

An argument case names one caller-supplied value of one builder. For any hostile value the
builder either rejects it, or returns the argument list it returns for a benign value with the
value in the same place and nothing else changed. The runners send `shlex.join(argv)` to a
shell, so `split_by_shell` runs joined commands through a real shell to compare what it passes on.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from pipeline.environments import Environment, environments_from
from pipeline.errors import InputError

# Environment validation raises InputError. The builders raise ValueError for a value that validation
# should have caught, such as an operand with a leading "-". Either is a rejection, not an injection.
REJECTED = (InputError, ValueError)

# Any text a Python string can carry into an argument list: no NUL (exec rejects it) and no lone
# surrogates (they cannot be encoded to pass to a process).
ANY_CHARACTER = st.characters(codec="utf-8", exclude_characters="\x00")

# Fragments that mean something to a POSIX shell, to an option parser, to nginx or inside a URL. Their
# commands only print, so a quoting bug found by a shell round trip shows in the output.
PAYLOADS = (
    "; echo pwned", "$(echo pwned)", "`echo pwned`", "&& echo pwned", "|| echo pwned", "| cat", "&", ">", "<", "*", "?",
    "~", "\n", "\r\n", "\r", "\t", " ", "'", '"', "\\", "$HOME", "${IFS}", "!", "--", "-", "--privileged", "-rf", "-o",
    "{", "}", ";", "#", "; return 200 pwned;", "} server { listen 80; }", "%", "@evil.example/", ":", ",", "=", "/",
)  # fmt: skip
# Fragments that pass one builder's or validator's check, so a payload can follow a prefix that a
# check accepts, as in "::1%; return 200 pwned;".
VALID_PARTS = (
    "uat", "v1", "a", "0", "1", "/home/deploy", "/etc/tls/cert.pem", "http://127.0.0.1:18080", "https://", "127.0.0.1",
    "::1", "::1%", "fe80::1%", "device=0", "all", "r-0123456789ab", "uat.example.com", "50m", "registry.test:5000",
    "disk", "agent-dk-uat",
)  # fmt: skip

HOSTILE_TEXT = st.one_of(
    st.text(ANY_CHARACTER),
    st.lists(
        st.one_of(st.sampled_from(PAYLOADS), st.sampled_from(VALID_PARTS), st.text(ANY_CHARACTER, max_size=3)),
        max_size=6,
    ).map("".join),
)
NON_EMPTY_TEXT = HOSTILE_TEXT.filter(bool)
# A number parameter may still receive text from a careless caller.
NUMBER_OR_TEXT = st.one_of(st.integers(), HOSTILE_TEXT)

BASE_TABLE: dict[str, object] = {"branch": "develop", "port": 18080, "container": "agent-dk-uat"}
TLS_TABLE: dict[str, object] = {
    "tls_cert": "/etc/agent-dk/tls/cert.pem",
    "tls_key": "/etc/agent-dk/tls/key.pem",
    "tls_host": "uat.example.com",
}


def environment(name: str = "uat", **settings: object) -> Environment:
    """Build an environment the way deploy.toml does, so its validation checks every setting."""
    config = {"environments": {name: {**BASE_TABLE, **settings}}}
    return environments_from(config)[name]


def tls_environment(**settings: object) -> Environment:
    return environment(**{**TLS_TABLE, **settings})


@dataclass(frozen=True)
class ArgvCase:
    """One caller-supplied value of one builder, and where the builder puts it."""

    id: str
    build: Callable[[Any], list[str]]
    benign: object
    # The arguments that carry the value: format strings, or a function for a builder that quotes it.
    slots: tuple[str | Callable[[Any], str], ...] = ("{}",)
    values: st.SearchStrategy[Any] = HOSTILE_TEXT
    # A check of how the receiving program reads the value back out of its argument.
    check: Callable[[list[str], Any], None] | None = None
    # The value is a positional operand of a program that parses options, so it must not start
    # with "-" unless a "--" before it ends the options.
    operand: bool = False


def render_slot(slot: str | Callable[[Any], str], value: object) -> str:
    return slot(value) if callable(slot) else slot.format(value)


def option_value(argv: list[str], option: str) -> str:
    return argv[argv.index(option) + 1]


def check_value_in_place(case: ArgvCase, value: object) -> None:
    """Assert that the builder rejects `value` or puts it only where it puts the benign value."""
    benign_argv = case.build(case.benign)
    try:
        argv = case.build(value)
    except REJECTED:
        return
    expected = list(benign_argv)
    value_positions = []
    for slot in case.slots:
        marker = render_slot(slot, case.benign)
        positions = [index for index, argument in enumerate(benign_argv) if argument == marker]
        assert positions, f"case {case.id}: the benign value gives no argument {marker!r}"
        for index in positions:
            expected[index] = render_slot(slot, value)
        value_positions += positions
    assert argv == expected

    if case.operand:
        for index in value_positions:
            assert "--" in argv[:index] or not argv[index].startswith("-")
    if case.check is not None:
        case.check(argv, value)


def build_accepted(case: ArgvCase, values: Sequence[object]) -> list[list[str]]:
    """Return the argument lists the builder returns for the benign value and each accepted value."""
    commands = [case.build(case.benign)]
    for value in values:
        try:
            commands.append(case.build(value))
        except REJECTED:
            continue
    return commands


# Prints the number of arguments and then each argument, each followed by a NUL byte.
_PRINT_ARGUMENTS = 'print_arguments() { printf \'%s\\0\' "$#" "$@"; }'


def split_by_shell(
    shell: str, commands: Sequence[Sequence[str]], join: Callable[[list[str]], str] = shlex.join
) -> list[list[str]]:
    """Run each command joined as the runners join it, with the program replaced by a function that
    prints its arguments, and return the argument lists the shell passed to that function.
    """
    lines = [join(["print_arguments", *argv]) for argv in commands]
    script = "\n".join([_PRINT_ARGUMENTS, *lines])
    output = subprocess.run([shell, "-c", script], capture_output=True, check=True, timeout=30).stdout
    fields = iter(output.decode().split("\0")[:-1])
    return [[next(fields) for _ in range(int(count))] for count in fields]
