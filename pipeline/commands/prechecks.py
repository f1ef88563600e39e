"""The arguments of scripts/prechecks.sh, built from an environment's settings."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import REPO_ROOT
from pipeline.environments import Environment

SCRIPT = REPO_ROOT / "scripts" / "prechecks.sh"
SERVER_CHECKS = ("backup", "disk", "network", "gpu")


def script_text(path: Path = SCRIPT) -> str:
    return path.read_text()


def run_script() -> list[str]:
    """Run a script sent on stdin; its arguments follow `--`."""
    return ["bash", "-s", "--"]


def prechecks_args(
    env: Environment, *, registry: str | None, state_dir: str, image_size_mb: int, checks: tuple[str, ...]
) -> list[str]:
    # The script parses any argument that starts with "--" as an option, even after the checks, so
    # only known check names may follow the options.
    for check in checks:
        if check not in SERVER_CHECKS:
            raise ValueError(f"invalid server check {check!r}: expected one of {', '.join(SERVER_CHECKS)}")
    args = [
        "--env", env.name,
        "--port", str(env.port),
        "--state-dir", state_dir,
        "--min-free-mb", str(env.min_free_disk_mb),
        "--image-size-mb", str(image_size_mb),
        "--backup-max-age-hours", str(env.backup_max_age_hours),
        "--gpus", env.gpus,
        "--gpu-memory-mb", str(env.gpu_memory_mb),
    ]  # fmt: skip
    if registry:
        args += ["--registry", registry]
    if env.backup_path:
        args += ["--backup-path", env.backup_path]
    if env.production:
        args.append("--production")
    return [*args, *checks]
