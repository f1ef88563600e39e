"""The arguments that the pipeline passes to scripts/prechecks.sh and scripts/smoke_test.sh."""

from __future__ import annotations

import pytest

from pipeline.commands import prechecks
from pipeline.environments import Environment

UAT = Environment("uat", (), "uat", "develop", 18080, "agent-dk-uat")


@pytest.mark.parametrize("check", ["--production", "all", "freeze", ""])
def test_prechecks_args_reject_unknown_check(check: str) -> None:
    with pytest.raises(ValueError, match="invalid server check"):
        prechecks.prechecks_args(UAT, registry=None, state_dir="/s", image_size_mb=0, checks=(check,))
