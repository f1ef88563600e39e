"""HTTPS through the proxy and the smoke test's TLS check, with certificates from a test CA."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.configs import write_config
from tests.integration.conftest import ReleaseImages, Sandbox

TLS_DIR = Path("/tmp/agent-dk-it-tls")
HOST = "stg.agent-dk.test"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=TLS_DIR)


def make_certificate(name: str, days: int) -> None:
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-subj", f"/CN={HOST}", "-out", f"{name}.csr"
    )
    (TLS_DIR / f"{name}.ext").write_text(f"subjectAltName=DNS:{HOST}\n")
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", str(days), "-extfile", f"{name}.ext", "-out", f"{name}.pem",
    )  # fmt: skip


@pytest.fixture(scope="module")
def certificates() -> Path:
    shutil.rmtree(TLS_DIR, ignore_errors=True)
    TLS_DIR.mkdir(mode=0o755)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-subj", "/CN=agent-dk test CA",
            "-days", "30", "-out", "ca.pem")  # fmt: skip
    make_certificate("good", 60)
    make_certificate("expiring", 2)
    for path in TLS_DIR.iterdir():
        path.chmod(0o644)
    return TLS_DIR


@pytest.fixture
def stg_plain_after(sandbox: Sandbox, images: ReleaseImages) -> Iterator[None]:
    yield
    # Later tests expect plain HTTP on stg; deploying without TLS recreates the proxy without it.
    completed = sandbox.invoke("deploy", "--env=stg", f"--version={images.v2}", "--force")
    assert completed.returncode == 0, completed.stderr


def tls_config(tmp_path: Path, certificates: Path, name: str) -> Path:
    keys = {
        "tls_cert": str(certificates / f"{name}.pem"),
        "tls_key": str(certificates / f"{name}.key"),
        "tls_host": HOST,
        "tls_ca": str(certificates / "ca.pem"),
        "tls_min_days": 14,
    }
    return write_config(tmp_path, {"stg": keys})


@pytest.mark.parametrize(("certificate", "status"), [("good", "pass"), ("expiring", "fail")])
def test_tls_smoke_check(
    sandbox: Sandbox,
    images: ReleaseImages,
    certificates: Path,
    stg_plain_after: None,
    tmp_path: Path,
    certificate: str,
    status: str,
) -> None:
    config = {"AGENT_DK_CONFIG": str(tls_config(tmp_path, certificates, certificate))}
    deployed = sandbox.invoke("deploy", "--env=stg", f"--version={images.v1}", "--force", extra_env=config)
    assert deployed.returncode == 0, deployed.stderr
    completed = sandbox.invoke("smoke", "--env=stg", extra_env=config)
    tls = [line for line in completed.stdout.splitlines() if line.startswith("RESULT tls ")]
    assert len(tls) == 1, completed.stdout
    assert tls[0].split()[2] == status
    assert "RESULT version pass" in completed.stdout
    if status == "fail":
        assert "fewer than 14" in tls[0]
