from __future__ import annotations

import pytest

from pipeline.commands import files
from pipeline.commands.proxy import parse_upstream, render_config
from pipeline.environments import Environment

ENV = Environment(
    name="uat",
    aliases=(),
    github_environment="uat",
    branch="develop",
    port=18080,
    container="agent-dk-uat",
    proxy_read_timeout=600,
    client_max_body_size="100m",
)


def test_render_config_forwards_to_alias() -> None:
    text = render_config(ENV, "r-0123456789ab")
    assert "set $agent_dk_upstream http://r-0123456789ab:8080;" in text
    assert "proxy_read_timeout 600s;" in text
    assert "client_max_body_size 100m;" in text
    assert "resolver 127.0.0.11" in text
    assert "listen 8080;" in text


def test_parse_upstream_round_trips() -> None:
    assert parse_upstream(render_config(ENV, "r-0123456789ab")) == "r-0123456789ab"


def test_parse_upstream_without_marker() -> None:
    assert parse_upstream("server { listen 80; }") is None


@pytest.mark.parametrize("alias", ["", "R-UPPER", "r;rm", "a" * 64, "-r"])
def test_render_config_rejects_bad_alias(alias: str) -> None:
    with pytest.raises(ValueError, match="invalid upstream alias"):
        render_config(ENV, alias)


def test_write_file_passes_path_as_argument() -> None:
    argv = files.write_file("/home/deploy/.agent-dk/uat/app.env", "0600")
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == ["sh", "/home/deploy/.agent-dk/uat/app.env", "0600"]
    assert "/home/deploy" not in argv[2]


@pytest.mark.parametrize("path", ["relative/path", "-rf", ""])
def test_file_builders_reject_relative_paths(path: str) -> None:
    with pytest.raises(ValueError, match="expected an absolute path"):
        files.read_file(path)


def test_write_file_rejects_bad_mode() -> None:
    with pytest.raises(ValueError, match="invalid mode"):
        files.write_file("/tmp/x", "777; rm")


def test_render_config_writes_whole_seconds() -> None:
    env = Environment("uat", (), "uat", "develop", 18080, "agent-dk-uat", proxy_read_timeout=1_000_000.0)
    text = render_config(env, "r-0123456789ab")
    assert "proxy_read_timeout 1000000s;" in text
    assert "proxy_connect_timeout 5s;" in text
