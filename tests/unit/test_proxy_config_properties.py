"""Property tests: no setting or alias rendered into the nginx config can add a directive or a block.

Each case renders the config with a hostile value in one setting. Either validation rejects the
value, or the config splits into the same words and ";", "{", "}" as with a benign value, with the
value as the one word it fills.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.commands.proxy import parse_upstream, render_config
from tests.unit.property_support import HOSTILE_TEXT, REJECTED, environment, tls_environment

ALIAS = "r-0123456789ab"
# A TOML setting can hold an int, a float (inf and nan too) or a string where a number belongs.
NUMBERS = st.one_of(st.integers(), st.floats(), HOSTILE_TEXT)
# nginx reads these times in whole seconds up to 2147483, which is 2^31 - 1 ms. Its ngx_parse_time
# (src/core/ngx_parse.c) rejects any character other than a digit, a unit letter or a space.
SECONDS = re.compile(r"[0-9]+s")
NGINX_MAX_SECONDS = 2147483
SIZE = re.compile(r"[0-9]+[kmg]?")


@dataclass(frozen=True)
class Case:
    """One value rendered into the config, and the word nginx must read it as."""

    id: str
    render: Callable[[Any], str]
    benign: object
    # The config word that carries the value, or None for a value that only appears in a comment.
    word: Callable[[Any], str] | None
    values: st.SearchStrategy[Any] = HOSTILE_TEXT
    # Words nginx accepts in that place, for values that validation lets through.
    valid_word: Callable[[str], bool] = lambda word: True
    # The value is the upstream alias, which the config also names in its marker comment.
    is_alias: bool = False


def seconds_word(word: str) -> bool:
    return SECONDS.fullmatch(word) is not None and 1 <= int(word[:-1]) <= NGINX_MAX_SECONDS


CASES = [
    Case("environment name", lambda v: render_config(environment(v), ALIAS), "uat", None),
    Case(
        "tls_host",
        lambda v: render_config(tls_environment(tls_host=v), ALIAS),
        "uat.example.com",
        str,
    ),
    Case(
        "client_max_body_size",
        lambda v: render_config(environment(client_max_body_size=v), ALIAS),
        "51m",
        str,
        valid_word=lambda word: SIZE.fullmatch(word) is not None,
    ),
    Case(
        "proxy_connect_timeout",
        lambda v: render_config(environment(proxy_connect_timeout=v), ALIAS),
        7,
        lambda v: f"{int(v)}s",
        values=NUMBERS,
        valid_word=seconds_word,
    ),
    Case(
        "proxy_read_timeout",
        lambda v: render_config(environment(proxy_read_timeout=v), ALIAS),
        301,
        lambda v: f"{int(v)}s",
        values=NUMBERS,
        valid_word=seconds_word,
    ),
    Case(
        "upstream alias",
        lambda v: render_config(environment(), v),
        ALIAS,
        lambda v: f"http://{v}:8080",
        is_alias=True,
    ),
]


def nginx_words(text: str) -> list[str]:
    """Split config text into words and the characters ";", "{" and "}", without comments.

    It splits at every whitespace character and at every ";", "{" and "}", which includes every place
    where nginx splits outside quotes, so a value that could end a directive or open or close a block
    changes the list. Like nginx, it reads a "#" at the start of a word as a comment up to the next
    line feed.
    """
    words: list[str] = []
    word = ""
    in_comment = False
    for char in text:
        if in_comment:
            in_comment = char != "\n"
            continue
        if char == "#" and not word:
            in_comment = True
            continue
        if char.isspace() or char in ";{}":
            if word:
                words.append(word)
            word = ""
            if char in ";{}":
                words.append(char)
            continue
        word += char
    if word:
        words.append(word)
    return words


def check_config_shape(case: Case, value: object) -> None:
    benign_words = nginx_words(case.render(case.benign))
    try:
        config = case.render(value)
    except REJECTED:
        return
    words = nginx_words(config)
    if case.word is None:
        assert words == benign_words
    else:
        benign_word, value_word = case.word(case.benign), case.word(value)
        assert benign_word in benign_words
        assert words == [value_word if word == benign_word else word for word in benign_words]
        # The split above ignores quotes and backslashes, which nginx reads as quoting.
        assert not any(char in value_word for char in "\"'\\")
        assert case.valid_word(value_word)
    assert parse_upstream(config) == (value if case.is_alias else ALIAS)


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
@settings(max_examples=1000)
@given(data=st.data())
def test_value_adds_no_directive(case: Case, data: st.DataObject) -> None:
    check_config_shape(case, data.draw(case.values, label="value"))


@pytest.mark.parametrize(
    "value",
    [
        "uat.example.com; return 200 pwned",
        "uat.example.com }",
        "uat.example.com\nreturn 200 pwned",
        '"uat.example.com; return 200 pwned"',
    ],
)
def test_check_catches_injection(value: str) -> None:
    # A render that pastes the value in unchecked, to show that the property test would fail.
    case = Case("unchecked", lambda v: f"server {{\n    server_name {v};\n}}\n# agent-dk upstream: {ALIAS}\n", "a", str)
    with pytest.raises(AssertionError):
        check_config_shape(case, value)
