"""Build the service image on this machine and push it to the registry."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from pipeline.commands import docker
from pipeline.config import REPO_ROOT, Settings
from pipeline.errors import InputError, RemoteCommandError
from pipeline.remote import Runner, SSHRunner

log = logging.getLogger("agent_dk")

BUILD_TIMEOUT_SECONDS = 1800
PUSH_TIMEOUT_SECONDS = 900
STAGED_CA_CERT = REPO_ROOT / "certs" / "build-extra.crt"


def stage_ca_cert(source: Path | None) -> None:
    """Copy the extra CA certificate into the build context, where the Dockerfile picks it up."""
    if source is None:
        return
    if source.resolve() != STAGED_CA_CERT.resolve():
        shutil.copyfile(source, STAGED_CA_CERT)
    log.info("build: trusting the extra CA certificate %s", source)


def build_image(settings: Settings, runner: Runner, *, version: str, git_sha: str, build_time: str) -> str:
    image_ref = settings.image_ref(version)
    stage_ca_cert(settings.build_ca_cert)
    build_args = {
        "BASE_IMAGE": settings.base_image,
        "APP_VERSION": version,
        "GIT_SHA": git_sha,
        "BUILD_TIME": build_time,
        "SOURCE_URL": settings.source_url or "unknown",
    }
    log.info("build: %s from %s", image_ref, settings.base_image)
    runner.run(
        docker.build(
            image_ref, build_args=build_args, context=str(REPO_ROOT), dockerfile=str(REPO_ROOT / "Dockerfile")
        ),
        timeout=BUILD_TIMEOUT_SECONDS,
    )
    return image_ref


def login(settings: Settings, runner: Runner) -> None:
    """Log in to the registry when credentials are set; the password goes on stdin."""
    registry = settings.require_registry()
    if registry.username and registry.password:
        try:
            runner.run(docker.login(registry.address, registry.username), stdin=registry.password.reveal())
        except RemoteCommandError as error:
            raise RemoteCommandError(
                f"{error}\n  docker login to {registry.address} as {registry.username} failed: "
                "check REGISTRY_USERNAME and REGISTRY_PASSWORD",
                exit_code=error.command_exit_code,
                stderr=error.stderr,
            ) from None


def push_image(settings: Settings, runner: Runner, *, version: str, also_tags: tuple[str, ...] = ()) -> list[str]:
    """Push the version's image, and the same image under `also_tags`; return the pushed references."""
    image_ref = settings.image_ref(version)
    refs = [image_ref]
    for tag in also_tags:
        extra = settings.image_ref(tag)
        runner.run(docker.tag(image_ref, extra), quiet=True)
        refs.append(extra)
    login(settings, runner)
    for ref in refs:
        push_one(runner, ref, version)
    return refs


def push_one(runner: Runner, image_ref: str, version: str) -> None:
    log.info("push: %s", image_ref)
    try:
        runner.run(docker.push(image_ref), timeout=PUSH_TIMEOUT_SECONDS)
    except RemoteCommandError as error:
        if "No such image" in error.stderr or "does not exist" in error.stderr:
            raise RemoteCommandError(
                f"image {image_ref} is not on this machine: run `invoke build --version={version}` first"
            ) from None
        raise


def push_through_tunnel(
    settings: Settings, runner: Runner, ssh: SSHRunner, *, version: str, also_tags: tuple[str, ...] = ()
) -> list[str]:
    """Push through an SSH port forward to a registry that only the server can reach.

    The registry must speak plain HTTP to the server (typically a registry on the server's own
    loopback); the image is pushed to 127.0.0.1:<REGISTRY_TUNNEL_PORT> here, which is the
    registry's address on the other end of the tunnel.
    """
    registry = settings.require_registry().address
    host, _, port_text = registry.rpartition(":")
    if not host or not port_text.isdigit():
        raise InputError(
            f"REGISTRY_VIA_SSH needs REGISTRY with an explicit port, such as 127.0.0.1:5000, not {registry!r}"
        )
    local_port = settings.tunnel_port or int(port_text)
    local_registry = f"127.0.0.1:{local_port}"
    refs = []
    with ssh.forward(local_port, host, int(port_text)):
        log.info("push: through an SSH tunnel, 127.0.0.1:%d here to %s on %s", local_port, registry, ssh.where)
        for tag in (version, *also_tags):
            source = settings.image_ref(version)
            through = f"{local_registry}/{settings.image_name}:{tag}"
            runner.run(docker.tag(source, through), quiet=True)
            push_one(runner, through, version)
            refs.append(settings.image_ref(tag))
    return refs
