"""Build the service image on this machine and push it to the registry."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from pipeline.commands import docker
from pipeline.config import REPO_ROOT, Settings
from pipeline.errors import RemoteCommandError
from pipeline.remote import Runner

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
        runner.run(docker.login(registry.address, registry.username), stdin=registry.password.reveal())


def push_image(settings: Settings, runner: Runner, *, version: str) -> str:
    image_ref = settings.image_ref(version)
    login(settings, runner)
    log.info("push: %s", image_ref)
    try:
        runner.run(docker.push(image_ref), timeout=PUSH_TIMEOUT_SECONDS)
    except RemoteCommandError as error:
        if "No such image" in error.stderr or "does not exist" in error.stderr:
            raise RemoteCommandError(
                f"image {image_ref} is not on this machine: run `invoke build --version={version}` first"
            ) from None
        raise
    return image_ref
