"""Commands of the vulnerability scanners the security check runs when they are installed."""

from __future__ import annotations

from pipeline.config import REPO_ROOT

APP_REQUIREMENTS = REPO_ROOT / "requirements" / "app.txt"


def pip_audit() -> list[str]:
    return ["pip-audit", "--requirement", str(APP_REQUIREMENTS), "--format", "json", "--progress-spinner", "off"]


def trivy(image_ref: str) -> list[str]:
    return ["trivy", "image", "--format", "json", "--quiet", "--", image_ref]


def grype(image_ref: str) -> list[str]:
    # The image comes before the options and with no "--", so a leading "-" would make it an option.
    if not image_ref or image_ref.startswith("-"):
        raise ValueError(f"invalid image reference {image_ref!r} for grype: expected a reference not starting with '-'")
    return ["grype", image_ref, "--output", "json", "--quiet"]


def scanner_commands(image_ref: str) -> dict[str, list[str]]:
    """Map each scanner to its command: pip-audit scans the Python dependencies, the others the image."""
    return {"pip-audit": pip_audit(), "trivy": trivy(image_ref), "grype": grype(image_ref)}
