"""The nginx configuration of an environment's proxy."""

from __future__ import annotations

import re

from pipeline.commands.docker import APP_PORT, PROXY_PORT, PROXY_TLS_CERT, PROXY_TLS_KEY
from pipeline.environments import Environment

CONFIG_FILE = "agent-dk.conf"
UPSTREAM_MARKER = "# agent-dk upstream: "
ALIAS_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Docker's embedded DNS server, present in every container on a user-defined network.
DOCKER_DNS = "127.0.0.11"


def render_config(env: Environment, upstream_alias: str) -> str:
    """Render the server block that forwards the environment's port to one release.

    The upstream is a variable resolved through Docker's DNS, so a release container that
    restarts with a new address is found again without a deploy.
    """
    if not ALIAS_PATTERN.fullmatch(upstream_alias):
        raise ValueError(f"invalid upstream alias {upstream_alias!r}")
    return f"""\
# Written by the agent-dk pipeline for environment {env.name}; the next deploy replaces it.
{UPSTREAM_MARKER}{upstream_alias}
resolver {DOCKER_DNS} valid=5s ipv6=off;

server {{
    listen {PROXY_PORT}{" ssl" if env.tls else ""};
{_tls_lines(env)}    client_max_body_size {env.client_max_body_size};

    location / {{
        set $agent_dk_upstream http://{upstream_alias}:{APP_PORT};
        proxy_pass $agent_dk_upstream;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout {int(env.proxy_connect_timeout)}s;
        proxy_send_timeout {int(env.proxy_read_timeout)}s;
        proxy_read_timeout {int(env.proxy_read_timeout)}s;
        # Streamed inference output reaches the client as it is produced.
        proxy_buffering off;
    }}
}}
"""


def _tls_lines(env: Environment) -> str:
    if not env.tls:
        return ""
    return (
        f"    server_name {env.tls_host};\n"
        f"    ssl_certificate {PROXY_TLS_CERT};\n"
        f"    ssl_certificate_key {PROXY_TLS_KEY};\n"
        "    ssl_protocols TLSv1.2 TLSv1.3;\n"
    )


def parse_upstream(config_text: str) -> str | None:
    """Return the release alias a rendered config forwards to, or None if it names none."""
    for line in config_text.splitlines():
        if line.startswith(UPSTREAM_MARKER):
            alias = line[len(UPSTREAM_MARKER) :].strip()
            return alias if ALIAS_PATTERN.fullmatch(alias) else None
    return None
