"""Prepare a server for an environment: state directory, runtime config, network, proxy."""

from __future__ import annotations

import json
import logging

from pipeline import proxy
from pipeline.commands import docker, files
from pipeline.server import EnvContext

log = logging.getLogger("agent_dk")


def render_app_env(ctx: EnvContext) -> str:
    """Render the release's runtime configuration; it is read by `docker run --env-file`."""
    values = {"APP_ENV": ctx.env.name, **ctx.env.app_env}
    return "".join(f"{name}={value}\n" for name, value in values.items())


def ensure_state(ctx: EnvContext) -> None:
    ensure_directories(ctx)
    write_app_env(ctx)


def ensure_directories(ctx: EnvContext) -> None:
    ctx.runner.run(files.make_directory(ctx.root, "0700"), quiet=True)
    # The proxy reads its config from here, so the directory is readable by other users.
    ctx.runner.run(files.make_directory(ctx.proxy_dir, "0755"), quiet=True)


def write_app_env(ctx: EnvContext) -> None:
    ctx.runner.run(files.write_file(ctx.app_env_file, "0600"), stdin=render_app_env(ctx), quiet=True)


def ensure_network(ctx: EnvContext) -> bool:
    """Create the environment's network if missing; return True when it was created."""
    found = ctx.runner.run(docker.inspect_network(ctx.env.network), check=False, quiet=True)
    if found.ok:
        return False
    ctx.runner.run(docker.create_network(ctx.env.network, ctx.env.name))
    return True


def engine_report(ctx: EnvContext) -> list[str]:
    """Describe the engine settings that decide how releases survive restarts and fill disks."""
    info = json.loads(ctx.runner.run(docker.engine_info(), quiet=True).stdout)
    lines = [f"engine: Docker {info.get('ServerVersion', 'unknown')} on {info.get('OperatingSystem', 'unknown')}"]
    if info.get("LiveRestoreEnabled"):
        lines.append("live-restore: enabled (containers keep running while dockerd restarts)")
    else:
        lines.append(
            'live-restore: disabled; set "live-restore": true in /etc/docker/daemon.json so an engine '
            "restart does not stop the serving release"
        )
    driver = info.get("LoggingDriver", "unknown")
    daemon_json = ctx.runner.run(files.read_file("/etc/docker/daemon.json"), check=False, quiet=True)
    log_opts = {}
    if daemon_json.ok:
        try:
            log_opts = json.loads(daemon_json.stdout).get("log-opts", {})
        except ValueError:
            lines.append("daemon.json: not valid JSON")
    if driver == "json-file" and "max-size" not in log_opts:
        lines.append(
            "log rotation: json-file without max-size; container logs grow until the disk is full. "
            'Set "log-opts": {"max-size": "50m", "max-file": "3"} in /etc/docker/daemon.json'
        )
    else:
        lines.append(f"log rotation: driver {driver}, options {log_opts or 'default'}")
    return lines


def setup(ctx: EnvContext) -> list[str]:
    """Prepare the environment idempotently and return a report of what was found and done."""
    ensure_state(ctx)
    report = [f"state: {ctx.root}"]
    report.append(
        f"network: created {ctx.env.network}" if ensure_network(ctx) else f"network: {ctx.env.network} exists"
    )
    current = proxy.read_upstream(ctx) or proxy.NO_RELEASE_ALIAS
    outcome = proxy.ensure_running(ctx, current)
    if outcome == "legacy":
        outcome = (
            f"{ctx.env.container} is a plain app container that owns port {ctx.env.port} (the old layout); "
            "the next deploy moves it behind a proxy with one short handover"
        )
    report.append(f"proxy: {outcome}")
    report.extend(engine_report(ctx))
    return report
