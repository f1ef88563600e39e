"""GPU inventory from nvidia-smi."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

QUERY_FIELDS = "index,name,uuid,memory.total,memory.used"
NVIDIA_SMI_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    uuid: str
    memory_total_mib: int
    memory_used_mib: int


@dataclass(frozen=True)
class GpuInventory:
    gpus: list[Gpu] = field(default_factory=list)
    reason: str | None = None


def parse_nvidia_smi_csv(text: str) -> list[Gpu]:
    """Parse `nvidia-smi --query-gpu=QUERY_FIELDS --format=csv,noheader,nounits` output."""
    gpus = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 5:
            raise ValueError(f"unexpected nvidia-smi line: {line!r}")
        index, name, uuid, total, used = parts
        gpus.append(Gpu(int(index), name, uuid, int(total), int(used)))
    return gpus


def query_gpus() -> GpuInventory:
    """List the GPUs visible to this process, or return none with the reason."""
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return GpuInventory(reason="nvidia-smi not found: no NVIDIA runtime in this container")
    try:
        completed = subprocess.run(
            [binary, f"--query-gpu={QUERY_FIELDS}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return GpuInventory(reason=f"nvidia-smi timed out after {NVIDIA_SMI_TIMEOUT_SECONDS} s")
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        message = detail[-1] if detail else "no output"
        return GpuInventory(reason=f"nvidia-smi failed with exit code {completed.returncode}: {message}")
    try:
        return GpuInventory(gpus=parse_nvidia_smi_csv(completed.stdout))
    except ValueError as error:
        return GpuInventory(reason=str(error))
