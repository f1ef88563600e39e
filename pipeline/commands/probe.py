"""HTTP probes that run on the target, against ports it publishes."""

from __future__ import annotations

import ipaddress

from pipeline.environments import Environment

# Without --globoff curl expands {a,b} and [1-9] in a URL and sends one request for each match.
CURL_COMMAND = ["curl", "--silent", "--show-error", "--fail", "--globoff"]


def http_get(url: str, *, timeout_seconds: float) -> list[str]:
    """Fetch a URL; curl exits non-zero on connection errors and on HTTP status >= 400."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"invalid probe URL {url!r}")
    return [*CURL_COMMAND, "--max-time", f"{timeout_seconds:g}", "--", url]


def local_url(publish_address: str, port: int, path: str) -> str:
    """Return the URL the target uses to reach its own published port."""
    try:
        parsed = ipaddress.ip_address(publish_address)
    except ValueError:
        raise ValueError(f"invalid publish address {publish_address!r}: expected an IP address") from None
    # Python accepts any text after "%" as an IPv6 zone, and "]@host" in it would name another host.
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.scope_id is not None:
        raise ValueError(f"invalid publish address {publish_address!r}: expected an IP address without a zone")
    address = "127.0.0.1" if publish_address in ("0.0.0.0", "::") else publish_address
    if ":" in address:
        address = f"[{address}]"
    return f"http://{address}:{port}{_url_path(path)}"


def _url_path(path: str) -> str:
    # A path that does not start with "/" continues the host part, so "@evil.example/" would name another host.
    if not path.startswith("/"):
        raise ValueError(f"invalid URL path {path!r}: expected a path that starts with '/'")
    return path


def environment_get(env: Environment, publish_address: str, path: str, *, timeout_seconds: float) -> list[str]:
    """Fetch a path through the environment's port, over HTTPS with its host name when it serves TLS."""
    if not env.tls:
        return http_get(local_url(publish_address, env.port, path), timeout_seconds=timeout_seconds)
    trust = ["--cacert", env.tls_ca] if env.tls_ca else ["--insecure"]
    return [
        *CURL_COMMAND, "--max-time", f"{timeout_seconds:g}",
        "--resolve", f"{env.tls_host}:{env.port}:127.0.0.1", *trust,
        "--", f"https://{env.tls_host}:{env.port}{_url_path(path)}",
    ]  # fmt: skip
