"""Zero-downtime deploys: the old release serves until the new one is proven."""

from __future__ import annotations

from bench.load import Load
from tests.integration.conftest import UAT_PORT, ReleaseImages, Sandbox, http_version

STG_PORT = 28080


def deploy(sandbox: Sandbox, version: str, *extra: str, env: str = "uat"):
    return sandbox.invoke("deploy", f"--env={env}", f"--version={version}", *extra)


def test_new_version_under_load_drops_nothing(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    old = sandbox.serving("uat")
    with Load(UAT_PORT) as load:
        completed = deploy(sandbox, images.v2)
    summary = load.summary()
    assert completed.returncode == 0, completed.stderr
    assert summary.failed == 0, summary.errors
    assert summary.sent > 50
    assert summary.versions == [images.v1, images.v2]
    assert http_version(UAT_PORT) == images.v2
    assert sandbox.docker("inspect", "--format", "{{.State.Status}}", old).strip() == "exited"


def assert_failed_deploy_keeps_old(
    sandbox: Sandbox, images: ReleaseImages, broken: str, message: str, figures: dict
) -> str:
    """Deploy a broken release under load: the old one serves throughout, and a good deploy after it works."""
    good = images.v2
    assert deploy(sandbox, good).returncode == 0
    old = sandbox.serving("uat")
    with Load(UAT_PORT) as load:
        completed = deploy(sandbox, broken)
        serving_after_failure = sandbox.serving("uat")
        rerun = deploy(sandbox, images.v3)
    summary = load.summary()
    scenario = f"new release {broken.rsplit('-', 1)[-1]}: {message}"
    figures["faults"].append({"scenario": scenario, "requests": summary.sent, "failed": summary.failed})
    assert completed.returncode == 1
    assert message in completed.stderr
    assert serving_after_failure == old
    assert rerun.returncode == 0, rerun.stderr
    assert summary.failed == 0, summary.errors
    assert summary.versions == [good, images.v3]
    assert http_version(UAT_PORT) == images.v3
    return completed.stderr


def test_crashing_release_keeps_old_serving(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    stderr = assert_failed_deploy_keeps_old(sandbox, images, images.crashing, "crashed while starting", figures)
    assert "fake crash at start" in stderr


def test_never_healthy_release_keeps_old_serving(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    stderr = assert_failed_deploy_keeps_old(
        sandbox, images, images.never_healthy, "did not become ready within", figures
    )
    assert "fake health failure" in stderr


def test_wrong_version_release_keeps_old_serving(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    assert_failed_deploy_keeps_old(
        sandbox,
        images,
        images.wrong_version,
        f"reports version 'not-the-deployed-tag' instead of '{images.wrong_version}'",
        figures,
    )


def test_interrupted_deploy_leftover_is_stopped(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    # What a deploy killed after starting its release, before switching the proxy, leaves.
    sandbox.docker(
        "run", "--detach", "--name", "agent-dk-uat-leftover", "--network", "agent-dk-uat",
        "--label", "agent-dk.env=uat", "--label", "agent-dk.role=app",
        f"127.0.0.1:5000/agent-dk:{images.v3}",
    )  # fmt: skip
    completed = deploy(sandbox, images.v2)
    assert completed.returncode == 0, completed.stderr
    assert "stopping agent-dk-uat-leftover" in completed.stderr
    assert sandbox.serving("uat") == f"agent-dk-uat-{images.v2}"


def test_environments_prune_only_their_own(sandbox: Sandbox, images: ReleaseImages) -> None:
    for version in (images.v1, images.v2, images.v3):
        assert deploy(sandbox, version).returncode == 0
    uat_before = sandbox.releases("uat")
    for version in (images.v1, images.v2, images.v3):
        completed = deploy(sandbox, version, env="stg")
        assert completed.returncode == 0, completed.stderr
    assert sandbox.releases("uat") == uat_before
    # stg keeps one stopped release besides the serving one, plus its proxy.
    assert sandbox.releases("stg") == sorted(["agent-dk-stg", f"agent-dk-stg-{images.v2}", f"agent-dk-stg-{images.v3}"])
    assert http_version(STG_PORT) == images.v3


def test_plain_container_is_migrated_behind_proxy(sandbox: Sandbox, images: ReleaseImages) -> None:
    sandbox.docker("rm", "--force", "agent-dk-prod", check=False)
    # The layout before the proxy existed: the app itself owns the port under the front name.
    sandbox.docker(
        "run", "--detach", "--name", "agent-dk-prod", "--publish", "127.0.0.1:38080:8080",
        "--label", "agent-dk.env=prod", "--label", "agent-dk.role=app",
        "--label", f"org.opencontainers.image.version={images.v1}",
        f"127.0.0.1:5000/agent-dk:{images.v1}",
    )  # fmt: skip
    completed = sandbox.invoke("deploy", "--env=prod", f"--version={images.v2}", "--approved-by=integration-test")
    assert completed.returncode == 0, completed.stderr
    assert "moving it behind a proxy" in completed.stderr
    assert "migrated to the proxy layout" in completed.stderr
    assert http_version(38080) == images.v2
    role = sandbox.docker("inspect", "--format", '{{index .Config.Labels "agent-dk.role"}}', "agent-dk-prod")
    assert role.strip() == "proxy"


def test_recreate_strategy_restarts_old_on_failure(sandbox: Sandbox, images: ReleaseImages) -> None:
    # prod uses strategy = "recreate" in the test configuration.
    completed = sandbox.invoke("deploy", "--env=prod", f"--version={images.v3}", "--approved-by=integration-test")
    assert completed.returncode == 0, completed.stderr
    assert "recreate: stopping" in completed.stderr or "migrated" in completed.stderr
    assert http_version(38080) == images.v3
    completed = sandbox.invoke("deploy", "--env=prod", f"--version={images.crashing}", "--approved-by=integration-test")
    assert completed.returncode == 1
    assert "crashed while starting" in completed.stderr
    assert f"(version {images.v3}) serves again" in completed.stderr
    assert http_version(38080) == images.v3
