"""Deploy one version to one environment behind its proxy.

Blue-green (the default): start the new release beside the serving one and wait until Docker
reports it healthy and it reports the new version. Then point the proxy at it with a graceful
nginx reload, verify through the external port, and stop the old release after the drain timeout.
The old release serves until the new one is proven, so a failure leaves it untouched.

Recreate (for GPUs that cannot hold two copies) stops the old release first and then applies
the same health gate. If the new release fails, the old one is started again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline import proxy, retention, setup
from pipeline.build import login
from pipeline.commands import docker, files
from pipeline.commands import proxy as nginx
from pipeline.containers import ContainerState, ReleaseRow, digest_ref, list_releases, read_container
from pipeline.errors import ConnectionFailed, DeployFailed, PipelineError, RemoteCommandError
from pipeline.readiness import external_version_probe, read_version, show_failure, wait_for_external, wait_ready
from pipeline.report import Timeline
from pipeline.server import EnvContext
from pipeline.session import step

log = logging.getLogger("agent_dk")

PULL_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class DeployResult:
    environment: str
    version: str
    image: str
    container: str
    changed: bool
    message: str
    seconds_to_serving: float = 0.0
    seconds_total: float = 0.0
    from_version: str = ""
    from_image: str = ""


class ReleaseFailed(DeployFailed):
    """A release was started but did not take over; the old one keeps serving."""

    def __init__(self, message: str, *, image: str, container: str, from_version: str, from_image: str) -> None:
        super().__init__(message)
        self.image = image
        self.container = container
        self.from_version = from_version
        self.from_image = from_image


def release_alias(container_name: str) -> str:
    """Return a short DNS-safe network alias for a release container (names can exceed 63 characters)."""
    return "r-" + hashlib.sha256(container_name.encode()).hexdigest()[:12]


def pull(ctx: EnvContext, version: str) -> str:
    """Pull the version's image on the target and return its repository@sha256 reference."""
    image_ref = ctx.settings.image_ref(version)
    login(ctx.settings, ctx.runner)
    try:
        ctx.runner.run(docker.pull(image_ref), timeout=PULL_TIMEOUT_SECONDS)
    except RemoteCommandError as error:
        raise DeployFailed(
            f"cannot pull {image_ref} on {ctx.runner.where}: {error.stderr.strip() or error}. "
            f"Check that the registry {ctx.settings.require_registry().address} answers from the server and that "
            f"the version is pushed (`invoke build push --version={version}`); nothing was changed"
        ) from None
    inspected = ctx.runner.run(docker.repo_digests(image_ref), quiet=True)
    pinned = digest_ref(inspected.stdout, ctx.settings.image_repository())
    if pinned is None:
        raise DeployFailed(f"{image_ref} has no registry digest on {ctx.runner.where}; push it again and retry")
    return pinned


def find_serving(ctx: EnvContext, rows: list[ReleaseRow]) -> tuple[ContainerState | None, bool]:
    """Return the container that serves the port now, and whether it is the old proxy-less layout.

    The proxy's config file names the release it forwards to, but nginx may run an older config:
    a deploy killed between writing the file and reloading leaves them apart, and a file broken
    by hand names nothing. So the port is asked too, and when it reports another version than
    the named release, the one running release of that version is the one that serves.
    """
    front = proxy.read_proxy(ctx)
    if front is not None and front.role != "proxy":
        return front, True
    running = [row for row in rows if row.state == "running"]
    alias = proxy.read_upstream(ctx)
    named = next((row for row in running if alias and row.alias == alias), None)
    if front is not None and front.running and running:
        reported = read_version(ctx.runner, external_version_probe(ctx))
        matches = [row for row in running if reported is not None and row.version == reported]
        if (named is None or named.version != reported) and len(matches) == 1:
            log.warning(
                "deploy: the proxy config names %s, but the port serves version %s from %s",
                named.name if named else "no running release",
                reported,
                matches[0].name,
            )
            named = matches[0]
    if named is None:
        return None, False
    return read_container(ctx.runner, named.name), False


def leftovers(rows: list[ReleaseRow], serving: str | None) -> list[str]:
    """Return running releases other than the serving one: what an interrupted deploy left."""
    return [row.name for row in rows if row.state == "running" and row.name != serving]


def reconcile_proxy(ctx: EnvContext, serving: ContainerState | None, stray: list[str]) -> None:
    """Make the proxy's file and its loaded config both name the serving release.

    Done before anything else changes, so the config a failed switch restores is a good one and a
    stray release can be stopped without cutting off requests that nginx still sends it.
    """
    if serving is None or serving.alias is None:
        return
    state = proxy.read_proxy(ctx)
    if state is None or not state.running:
        # The proxy was removed or stopped: bring it back in front of the release that still runs.
        if proxy.read_upstream(ctx) != serving.alias:
            proxy.write_config(ctx, nginx.render_config(ctx.env, serving.alias))
        log.warning("deploy: %s", proxy.ensure_running(ctx, serving.alias))
        if serving.version:
            wait_for_external(ctx, serving.version)
        return
    if proxy.read_upstream(ctx) != serving.alias:
        log.warning("deploy: rewriting the proxy config of %s to name %s, which serves", ctx.env.name, serving.name)
        proxy.switch(ctx, serving.alias)
    elif stray:
        ctx.runner.run(docker.proxy_reload(ctx.env.container))


def stop_releases(ctx: EnvContext, names: list[str], why: str) -> None:
    for name in names:
        log.warning("deploy: stopping %s, %s", name, why)
        ctx.runner.run(docker.stop(name, ctx.env.stop_timeout), timeout=ctx.env.stop_timeout + 30)


LEFTOVER = "a release left running by an interrupted deploy"


def choose_name(ctx: EnvContext, version: str, rows: list[ReleaseRow], serving: str | None) -> str:
    base = f"{ctx.env.container}-{version}"
    if base == serving:
        # The same tag again (--force, or a new digest): a fresh container needs a name of its own.
        return f"{base}-{secrets.token_hex(3)}"
    if any(row.name == base for row in rows):
        ctx.runner.run(docker.remove(base, force=True))
    return base


def start_release(ctx: EnvContext, name: str, image: str, version: str) -> None:
    spec = docker.Release(
        name=name,
        alias=release_alias(name),
        image=image,
        environment=ctx.env.name,
        version=version,
        network=ctx.env.network,
        env_file=ctx.app_env_file,
        memory=ctx.env.memory,
        pids_limit=ctx.env.pids_limit,
        gpus=ctx.env.gpus,
    )
    try:
        ctx.runner.run(docker.run_release(spec))
    except RemoteCommandError as error:
        if "could not select device driver" in error.stderr:
            raise DeployFailed(
                f"environment {ctx.env.name} requests GPUs (gpus = {ctx.env.gpus!r}) but the Docker engine on "
                f"{ctx.runner.where} has no NVIDIA runtime: install the NVIDIA Container Toolkit there, "
                'or set gpus = "none" in deploy.toml'
            ) from None
        raise DeployFailed(f"cannot start {name}: {error}") from None


def fail_release(ctx: EnvContext, name: str) -> None:
    """Show why a release failed and stop it; the caller records the failure."""
    show_failure(ctx.runner, name)
    ctx.runner.run(docker.stop(name, ctx.env.stop_timeout), check=False, timeout=ctx.env.stop_timeout + 30)


def migrate_legacy(ctx: EnvContext, legacy: ContainerState, alias: str, version: str) -> float:
    """Hand the port from a proxy-less container to a new proxy; return the handover in seconds."""
    proxy.write_config(ctx, nginx.render_config(ctx.env, alias))
    retired = f"{ctx.env.container}-{legacy.version or 'legacy'}-{secrets.token_hex(3)}"
    log.warning(
        "deploy: %s serves port %d directly (the old layout); moving it behind a proxy, "
        "which closes the port for a moment",
        ctx.env.container,
        ctx.env.port,
    )
    started = time.monotonic()
    ctx.runner.run(docker.stop(legacy.name, ctx.env.stop_timeout), timeout=ctx.env.stop_timeout + 30)
    ctx.runner.run(docker.rename(legacy.name, retired))
    try:
        proxy.create(ctx)
        wait_for_external(ctx, version)
    except (DeployFailed, RemoteCommandError):
        ctx.runner.run(docker.remove(ctx.env.container, force=True), check=False)
        ctx.runner.run(docker.rename(retired, legacy.name))
        ctx.runner.run(docker.start(legacy.name))
        raise
    handover = time.monotonic() - started
    log.warning("deploy: migrated to the proxy layout; the port was closed for %.1f s", handover)
    return handover


def ensure_image(ctx: EnvContext, image: str) -> None:
    """Make sure a repository@sha256 image is on the server, pulling it by digest if needed."""
    present = ctx.runner.run(docker.inspect_image(image), check=False, quiet=True)
    if present.ok:
        return
    try:
        ctx.runner.run(docker.pull(image), timeout=PULL_TIMEOUT_SECONDS)
    except RemoteCommandError as error:
        raise DeployFailed(
            f"{image} is not on {ctx.runner.where} and cannot be pulled: {error.stderr.strip()}"
        ) from None


def deploy(
    ctx: EnvContext,
    version: str,
    *,
    force: bool = False,
    image: str | None = None,
    timeline: Timeline | None = None,
    before_change: Callable[[ContainerState | None], None] | None = None,
) -> DeployResult:
    """Deploy `version` (pulled by tag, or `image` by digest when given) and return what happened.

    Raises ReleaseFailed when the new release started but did not take over.
    """
    started = time.monotonic()
    env = ctx.env
    log.info("deploy: %s version %s (%s) on %s", env.name, version, env.strategy, ctx.runner.where)
    with step(timeline, "prepare server and pull image"):
        setup.ensure_directories(ctx)
        setup.ensure_network(ctx)
        if image is None:
            image = pull(ctx, version)
            log.info("deploy: %s is %s", ctx.settings.image_ref(version), image)
        else:
            ensure_image(ctx, image)

    rows = list_releases(ctx.runner, env.name)
    serving, legacy = find_serving(ctx, rows)
    from_version = (serving.version or "") if serving else ""
    from_image = serving.image if serving else ""
    stray = leftovers(rows, serving.name if serving else None)
    if not legacy:
        reconcile_proxy(ctx, serving, stray)
    already_serving = serving is not None and serving.running and serving.image == image and not force
    if already_serving and serving and read_version(ctx.runner, external_version_probe(ctx)) == version:
        if stray:
            time.sleep(env.drain_timeout)
            stop_releases(ctx, stray, LEFTOVER)
        message = (
            f"{env.name} already serves version {version} from {image} since {serving.started_at}; "
            "nothing to do (--force starts a fresh container)"
        )
        return DeployResult(env.name, version, image, serving.name, False, message, 0, 0, from_version, from_image)

    # Only now is it certain that the deploy changes something: back up what serves first, so the
    # backup records the env file the serving release was started with, then write the new one.
    if before_change is not None:
        before_change(serving)
    setup.write_app_env(ctx)
    name = choose_name(ctx, version, rows, serving.name if serving else None)
    stray = [leftover for leftover in stray if leftover != name]

    def failure(message: str) -> ReleaseFailed:
        """Stop the new release, which never took over, and describe the failure."""
        fail_release(ctx, name)
        return ReleaseFailed(message, image=image, container=name, from_version=from_version, from_image=from_image)

    alias = release_alias(name)
    stopped_old = False
    if env.strategy == "recreate":
        # Recreate is for servers that cannot hold two releases, so strays go first too.
        stop_releases(ctx, stray, LEFTOVER)
        stray = []
    if env.strategy == "recreate" and serving is not None and not legacy:
        log.info("deploy: recreate: stopping %s before starting %s", serving.name, name)
        ctx.runner.run(docker.stop(serving.name, env.stop_timeout), timeout=env.stop_timeout + 30)
        stopped_old = True

    try:
        with step(timeline, "start release and wait until healthy"):
            start_release(ctx, name, image, version)
            wait_ready(ctx, name, version)
    except ConnectionFailed as error:
        # The connection dropped: stop the new release over a new connection if the server is reachable.
        try:
            fail_release(ctx, name)
        except PipelineError:
            log.warning("deploy: could not stop %s; the next deploy stops it", name)
        kept = f"; {serving.name} still serves" if serving is not None and not stopped_old else ""
        raise DeployFailed(f"deploy of {version} to {env.name} failed: {error}{kept}") from None
    except DeployFailed as error:
        failed = failure(f"deploy of {version} to {env.name} failed: {error}")
        kept = ""
        if stopped_old:
            kept = restart_old(ctx, serving)
        elif serving is not None:
            kept = f"{serving.name} still serves"
        failed.args = (f"{failed}. {kept}".rstrip(". "),)
        raise failed from None

    if legacy and serving is not None:
        with step(timeline, "migrate port to the proxy"):
            migrate_legacy(ctx, serving, alias, version)
    else:
        with step(timeline, "switch proxy and verify through the port"):
            switch_and_verify(ctx, alias, version, failure, kept=f"; {serving.name} still serves" if serving else "")
    seconds_to_serving = time.monotonic() - started

    with step(timeline, "drain and stop the old release, prune"):
        if serving is not None and not stopped_old and not legacy:
            log.info("deploy: draining %s for %g s, then stopping it", serving.name, env.drain_timeout)
            time.sleep(env.drain_timeout)
            ctx.runner.run(docker.stop(serving.name, env.stop_timeout), timeout=env.stop_timeout + 30)
        elif stray:
            time.sleep(env.drain_timeout)
        stop_releases(ctx, stray, LEFTOVER)
        retention.prune(ctx, serving=name)
    total = time.monotonic() - started
    message = (
        f"{env.name} serves version {version} from {name} at "
        f"http://{ctx.target.publish_address}:{env.port} ({seconds_to_serving:.1f} s, {total:.1f} s with drain)"
    )
    return DeployResult(
        env.name, version, image, name, True, message, seconds_to_serving, total, from_version, from_image
    )


def switch_and_verify(
    ctx: EnvContext, alias: str, version: str, failure: Callable[[str], ReleaseFailed], *, kept: str
) -> None:
    """Point the proxy at the new release and verify it through the port; undo the switch on failure."""
    name_note = f"deploy of {version} to {ctx.env.name} failed"
    try:
        log.info("deploy: %s", proxy.ensure_running(ctx, alias))
        previous_config = proxy.switch(ctx, alias)
    except DeployFailed as error:
        raise failure(f"{name_note}: {error}{kept}") from None
    try:
        wait_for_external(ctx, version)
    except DeployFailed as error:
        proxy.restore(ctx, previous_config)
        raise failure(f"{name_note} after the switch: {error}") from None


def restart_old(ctx: EnvContext, serving: ContainerState | None) -> str:
    """Start the release that a recreate deploy stopped, and report whether it serves again."""
    if serving is None:
        return ""
    ctx.runner.run(docker.start(serving.name), check=False)
    try:
        wait_ready(ctx, serving.name, serving.version or "")
    except DeployFailed as error:
        return f"{serving.name} was started again but is not ready: {error}"
    return f"{serving.name} (version {serving.version}) serves again"


def plan(ctx: EnvContext, version: str) -> list[str]:
    """Describe what a deploy would do, with the exact commands, without changing anything."""
    env = ctx.env
    image_ref = ctx.settings.image_ref(version)
    rows = list_releases(ctx.runner, env.name)
    serving, legacy = find_serving(ctx, rows)
    name = f"{env.container}-{version}"
    if serving is not None and serving.name == name:
        name += "-<random>"
    release = docker.Release(
        name=name,
        alias=release_alias(name),
        image=f"{ctx.settings.image_repository()}@<digest of {image_ref}>",
        environment=env.name,
        version=version,
        network=env.network,
        env_file=ctx.app_env_file,
        memory=env.memory,
        pids_limit=env.pids_limit,
        gpus=env.gpus,
    )
    current = f"{serving.name} (version {serving.version})" if serving else "nothing"
    if serving is not None and serving.version == version:
        return [
            f"plan for {env.name} on {ctx.runner.where}:",
            f"  {serving.name} already serves version {version}: the deploy pulls {image_ref} and does nothing",
            "  if its digest is the serving one (--force starts a fresh container anyway)",
        ]
    commands = [docker.pull(image_ref)]
    if env.strategy == "recreate" and serving is not None:
        commands.append(docker.stop(serving.name, env.stop_timeout))
    config = f"{ctx.proxy_dir}/{nginx.CONFIG_FILE}"
    commands += [
        docker.run_release(release),
        files.write_file(config, "0644"),
        docker.proxy_test(env.container),
        docker.proxy_reload(env.container),
    ]
    if serving is not None and env.strategy == "blue-green":
        commands.append(docker.stop(serving.name, env.stop_timeout))
    lines = [
        f"plan for {env.name} on {ctx.runner.where} ({env.strategy}):",
        f"  now serving: {current}{' without a proxy (the old layout; it will be migrated)' if legacy else ''}",
        f"  new release: {name} from {image_ref}, health gate {env.ready_timeout:g} s, drain {env.drain_timeout:g} s",
        "  commands:",
    ]
    lines += [f"    {ctx.runner.mask(shlex.join(argv))}" for argv in commands]
    lines.append(
        f"  then: remove stopped releases of {env.name} beyond the newest {env.retain}, and their unused images"
    )
    return lines
