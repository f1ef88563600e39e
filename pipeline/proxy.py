"""Operations on an environment's proxy: read its target, switch it, create it."""

from __future__ import annotations

import logging

from pipeline.commands import docker, files
from pipeline.commands import proxy as nginx
from pipeline.containers import ContainerState, read_container
from pipeline.errors import DeployFailed, RemoteCommandError
from pipeline.server import EnvContext

log = logging.getLogger("agent_dk")

# The upstream a proxy forwards to before the first release exists; requests get a 502.
NO_RELEASE_ALIAS = "no-release-yet"


def config_path(ctx: EnvContext) -> str:
    return f"{ctx.proxy_dir}/{nginx.CONFIG_FILE}"


def read_config(ctx: EnvContext) -> str | None:
    result = ctx.runner.run(files.read_file(config_path(ctx)), check=False, quiet=True)
    return result.stdout if result.ok else None


def read_upstream(ctx: EnvContext) -> str | None:
    text = read_config(ctx)
    return nginx.parse_upstream(text) if text else None


def write_config(ctx: EnvContext, text: str) -> None:
    ctx.runner.run(files.write_file(config_path(ctx), "0644"), stdin=text)


def read_proxy(ctx: EnvContext) -> ContainerState | None:
    """Return the proxy container, or None; a non-proxy container under its name is returned too."""
    return read_container(ctx.runner, ctx.env.container)


def create(ctx: EnvContext) -> None:
    spec = docker.Proxy(
        name=ctx.env.container,
        image=ctx.settings.proxy_image,
        environment=ctx.env.name,
        network=ctx.env.network,
        config_dir=ctx.proxy_dir,
        publish_address=ctx.target.publish_address,
        host_port=ctx.env.port,
        tls_cert=ctx.env.tls_cert,
        tls_key=ctx.env.tls_key,
    )
    try:
        ctx.runner.run(docker.run_proxy(spec), timeout=600)
    except RemoteCommandError as error:
        if "port is already allocated" in error.stderr or "address already in use" in error.stderr:
            raise DeployFailed(
                f"port {ctx.env.port} on {ctx.runner.where} is held by another process or container; "
                f"free it (docker ps --filter publish={ctx.env.port}) and deploy again"
            ) from None
        raise


def ensure_running(ctx: EnvContext, upstream_alias: str) -> str:
    """Create or start the proxy if needed and return what was done."""
    state = read_proxy(ctx)
    if state is None:
        if read_config(ctx) is None:
            write_config(ctx, nginx.render_config(ctx.env, upstream_alias))
        create(ctx)
        return f"created proxy {ctx.env.container} on port {ctx.env.port}"
    if state.role != "proxy":
        return "legacy"
    wanted = "on" if ctx.env.tls else "off"
    if state.labels.get(docker.TLS_LABEL, "off") != wanted:
        return recreate_for_tls(ctx, upstream_alias, wanted)
    if not state.running:
        ctx.runner.run(docker.start(ctx.env.container))
        return f"started the stopped proxy {ctx.env.container}"
    return f"proxy {ctx.env.container} is running"


def recreate_for_tls(ctx: EnvContext, upstream_alias: str, wanted: str) -> str:
    """Replace the proxy so it mounts (or drops) the certificate; the port closes for about a second."""
    log.warning(
        "proxy: turning TLS %s for %s needs a new proxy container; the port closes for a moment", wanted, ctx.env.name
    )
    current = read_upstream(ctx) or upstream_alias
    write_config(ctx, nginx.render_config(ctx.env, current))
    ctx.runner.run(docker.remove(ctx.env.container, force=True))
    create(ctx)
    return f"recreated proxy {ctx.env.container} with TLS {wanted}"


def switch(ctx: EnvContext, upstream_alias: str) -> str | None:
    """Point the proxy at a release: write, test, reload. Return the previous config text.

    A config that fails `nginx -t` is replaced by the previous one before the error is raised,
    so the running proxy never loads it.
    """
    previous = read_config(ctx)
    write_config(ctx, nginx.render_config(ctx.env, upstream_alias))
    test = ctx.runner.run(docker.proxy_test(ctx.env.container), check=False)
    if not test.ok:
        if previous is not None:
            write_config(ctx, previous)
        raise DeployFailed(f"nginx rejected the new proxy config: {(test.stderr or test.stdout).strip()}")
    ctx.runner.run(docker.proxy_reload(ctx.env.container))
    return previous


def restore(ctx: EnvContext, previous: str | None) -> None:
    """Put a previous config back and reload; used when a switched release fails verification."""
    if previous is None:
        return
    write_config(ctx, previous)
    ctx.runner.run(docker.proxy_reload(ctx.env.container), check=False)
