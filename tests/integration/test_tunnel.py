"""Pushing through an SSH port forward, for servers whose registry only they can reach."""

from __future__ import annotations

from tests.integration.conftest import ReleaseImages, Sandbox

TUNNEL_PORT = "5055"


def test_push_through_ssh_tunnel(sandbox: Sandbox, images: ReleaseImages) -> None:
    completed = sandbox.invoke(
        "push",
        f"--version={images.v1}",
        f"--also-tag=latest-tunnel-{images.v1}",
        extra_env={"REGISTRY_VIA_SSH": "true", "REGISTRY_TUNNEL_PORT": TUNNEL_PORT},
    )
    assert completed.returncode == 0, completed.stderr
    assert f"through an SSH tunnel, 127.0.0.1:{TUNNEL_PORT} here" in completed.stderr
    # Nothing else listens on the tunnel port, so these pushes can only have gone through SSH.
    assert f"docker push 127.0.0.1:{TUNNEL_PORT}/agent-dk:{images.v1}" in completed.stderr
    assert f"docker push 127.0.0.1:{TUNNEL_PORT}/agent-dk:latest-tunnel-{images.v1}" in completed.stderr
    pulled = sandbox.docker("pull", "--quiet", f"127.0.0.1:5000/agent-dk:latest-tunnel-{images.v1}")
    assert "latest-tunnel" in pulled


def test_tunnel_needs_registry_port(sandbox: Sandbox, images: ReleaseImages) -> None:
    completed = sandbox.invoke(
        "push",
        f"--version={images.v1}",
        extra_env={"REGISTRY_VIA_SSH": "true", "REGISTRY": "registry.example.internal"},
    )
    assert completed.returncode == 2
    assert "REGISTRY_VIA_SSH needs REGISTRY with an explicit port" in completed.stderr
