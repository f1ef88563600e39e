"""HTTP probes that run on the target, against ports it publishes."""

from __future__ import annotations

from pipeline.environments import Environment


def http_get(url: str, *, timeout_seconds: float) -> list[str]:
    """Fetch a URL; curl exits non-zero on connection errors and on HTTP status >= 400."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"invalid probe URL {url!r}")
    return ["curl", "--silent", "--show-error", "--fail", "--max-time", f"{timeout_seconds:g}", "--", url]


def local_url(publish_address: str, port: int, path: str) -> str:
    """Return the URL the target uses to reach its own published port."""
    address = "127.0.0.1" if publish_address in ("0.0.0.0", "::") else publish_address
    if ":" in address:
        address = f"[{address}]"
    return f"http://{address}:{port}{path}"


def environment_get(env: Environment, publish_address: str, path: str, *, timeout_seconds: float) -> list[str]:
    """Fetch a path through the environment's port, over HTTPS with its host name when it serves TLS."""
    if not env.tls:
        return http_get(local_url(publish_address, env.port, path), timeout_seconds=timeout_seconds)
    trust = ["--cacert", env.tls_ca] if env.tls_ca else ["--insecure"]
    return [
        "curl", "--silent", "--show-error", "--fail", "--max-time", f"{timeout_seconds:g}",
        "--resolve", f"{env.tls_host}:{env.port}:127.0.0.1", *trust,
        "--", f"https://{env.tls_host}:{env.port}{path}",
    ]  # fmt: skip
