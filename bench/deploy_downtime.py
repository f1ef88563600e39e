"""Compare a stop-and-start deploy script with the blue-green deploy, under load, on the sandbox.

Run from the repository root with the sandbox up:

    .venv/bin/python -m bench.deploy_downtime [--out docs/benchmarks.md]

Both deploys run in one go, on the same machine, against 127.0.0.1 only. The baseline does what
a plain deploy script does: docker stop, docker rm, docker run -p, a fixed 30 s wait, then one
health check. The blue-green deploy is `invoke deploy` with the repository's deploy.toml.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.load import Load, LoadSummary
from pipeline.cli import setup_logging
from pipeline.commands import docker
from pipeline.config import REPO_ROOT, load_settings
from pipeline.deploy import deploy
from pipeline.remote import SSHRunner
from pipeline.server import EnvContext

BASELINE_PORT = 18090
FLOOR_PORT = 18091
BASELINE_CONTAINER = "agent-dk-bench-baseline"
FLOOR_CONTAINER = "agent-dk-bench-floor"
BASELINE_WAIT_SECONDS = 30
SETTLE_SECONDS = 2


@dataclass
class Outcome:
    name: str
    seconds_to_new_version: float
    seconds_to_verified: float
    seconds_total: float
    load: LoadSummary


def invoke(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO_ROOT, check=True)


def wait_http(url: str, deadline_seconds: float) -> float:
    """Poll `url` every 20 ms until it returns 200, and return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (http://127.0.0.1 only)
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not respond with 200 within {deadline_seconds} s")


def plain_run(name: str, image: str, port: int) -> list[str]:
    return ["docker", "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8080", image]


def measure_floor(runner: SSHRunner, image: str) -> float:
    runner.run(docker.remove(FLOOR_CONTAINER, force=True), check=False)
    started = time.monotonic()
    runner.run(plain_run(FLOOR_CONTAINER, image, FLOOR_PORT))
    wait_http(f"http://127.0.0.1:{FLOOR_PORT}/health", 60)
    floor = time.monotonic() - started
    runner.run(docker.remove(FLOOR_CONTAINER, force=True))
    return floor


def run_baseline(runner: SSHRunner, old_image: str, new_image: str, new_version: str) -> Outcome:
    runner.run(docker.remove(BASELINE_CONTAINER, force=True), check=False)
    runner.run(plain_run(BASELINE_CONTAINER, old_image, BASELINE_PORT))
    wait_http(f"http://127.0.0.1:{BASELINE_PORT}/health", 60)
    with Load(BASELINE_PORT) as load:
        time.sleep(SETTLE_SECONDS)
        started = time.monotonic()
        runner.run(docker.stop(BASELINE_CONTAINER, 10), timeout=60)
        runner.run(docker.remove(BASELINE_CONTAINER))
        runner.run(plain_run(BASELINE_CONTAINER, new_image, BASELINE_PORT))
        time.sleep(BASELINE_WAIT_SECONDS)
        wait_http(f"http://127.0.0.1:{BASELINE_PORT}/health", 5)
        verified = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)
    runner.run(docker.remove(BASELINE_CONTAINER, force=True))
    summary = load.summary()
    first = summary.first_seen.get(new_version, float("nan")) - (started - load.started)
    return Outcome("stop, rm, run -p, wait 30 s", first, verified, verified, summary)


def run_blue_green(ctx: EnvContext, new_version: str) -> Outcome:
    with Load(ctx.env.port) as load:
        time.sleep(SETTLE_SECONDS)
        started = time.monotonic()
        result = deploy(ctx, new_version)
        time.sleep(SETTLE_SECONDS)
    summary = load.summary()
    first = summary.first_seen.get(new_version, float("nan")) - (started - load.started)
    return Outcome("blue-green (invoke deploy)", first, result.seconds_to_serving, result.seconds_total, summary)


def image_size(image: str) -> int:
    output = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", image], capture_output=True, text=True, check=True
    )
    return int(output.stdout.strip())


def render(outcomes: list[Outcome], floor: float, size: int, drain: float) -> str:
    baseline, blue_green = outcomes
    lines = [
        "| deploy | new version serves after (s) | verified through the port after (s) | total (s) "
        "| requests sent | requests failed | longest gap (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        lines.append(
            f"| {outcome.name} | {outcome.seconds_to_new_version:.2f} | {outcome.seconds_to_verified:.2f} "
            f"| {outcome.seconds_total:.2f} | {outcome.load.sent} | {outcome.load.failed} "
            f"| {outcome.load.longest_gap:.2f} |"
        )
    ratio = baseline.seconds_to_verified / blue_green.seconds_to_verified
    lines += [
        "",
        f"- Verified-new-version time, baseline / blue-green: {ratio:.1f}x.",
        f"- Blue-green total includes the drain timeout of {drain:g} s before the old release stops.",
        f"- Floor, `docker run` to the first healthy answer of /health: {floor:.2f} s.",
        f"- Image size: {size / 1e6:.0f} MB.",
        f"- Failed-request errors, baseline: {', '.join(baseline.load.errors) or 'none'}.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="uat", help="environment for the blue-green deploy (default uat)")
    parser.add_argument("--out", type=Path, help="also append the results table to this Markdown file")
    args = parser.parse_args()
    setup_logging()

    os.environ.setdefault("AGENT_DK_ENV_FILE", str(REPO_ROOT / ".env.sandbox"))
    settings = load_settings()
    env = settings.environment(args.env)
    run_id = secrets.token_hex(3)
    old_version, new_version = f"bench-{run_id}-a", f"bench-{run_id}-b"
    for version in (old_version, new_version):
        invoke("build", f"--version={version}", "push", f"--version={version}")

    target = settings.target()
    runner = SSHRunner(target, settings.secrets())
    ctx = EnvContext(settings=settings, env=env, target=target, runner=runner)
    try:
        deploy(ctx, old_version)
        # Both deploys start with the new image already on the server.
        runner.run(docker.pull(settings.image_ref(new_version)), timeout=600)
        floor = measure_floor(runner, settings.image_ref(old_version))
        baseline = run_baseline(runner, settings.image_ref(old_version), settings.image_ref(new_version), new_version)
        blue_green = run_blue_green(ctx, new_version)
    finally:
        runner.close()

    table = render([baseline, blue_green], floor, image_size(settings.image_ref(new_version)), env.drain_timeout)
    machine = f"{platform.node()}: {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    header = (
        f"\n### Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
        f"Command: `.venv/bin/python -m bench.deploy_downtime`; machine: {machine}; load: 2 threads of "
        "GET /version on new connections to 127.0.0.1.\n\n"
    )
    print(header + table)
    if args.out:
        with args.out.open("a") as stream:
            stream.write(header + table + "\n")
    print(json.dumps({"baseline_failed": baseline.load.failed, "blue_green_failed": blue_green.load.failed}))
    return 0 if blue_green.load.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
