"""The arguments of scripts/smoke_test.sh, built from an environment's settings."""

from __future__ import annotations

from pipeline.config import REPO_ROOT
from pipeline.environments import Environment

SCRIPT = REPO_ROOT / "scripts" / "smoke_test.sh"


def script_text() -> str:
    return SCRIPT.read_text()


def smoke_args(env: Environment, *, version: str, container: str, image: str) -> list[str]:
    args = [
        "--port", str(env.port),
        "--version", version,
        "--container", container,
        "--image", image,
        "--gpus", env.gpus,
        "--latency-requests", str(env.latency_requests),
        "--p50-ms", str(env.latency_p50_ms),
        "--p95-ms", str(env.latency_p95_ms),
    ]  # fmt: skip
    if env.tls:
        args += ["--tls-host", env.tls_host, "--tls-min-days", str(env.tls_min_days)]
        if env.tls_ca:
            args += ["--tls-ca", env.tls_ca]
    return args
