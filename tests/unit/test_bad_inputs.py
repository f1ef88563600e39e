"""Every bad input in tests/bad_inputs.py exits 2 with one ERROR line, before anything connects.

The env file aims SSH at 127.0.0.1:9, a closed loopback port, so a task that missed the bad input
fails with a connection error and the message check catches it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_inputs import CASES, Case, assert_rejected, run_case


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_rejected(case: Case, tmp_path: Path) -> None:
    completed = run_case(case, tmp_path)
    assert_rejected(case, completed)


def test_case_ids_unique() -> None:
    ids = [case.id for case in CASES]
    assert sorted({case_id for case_id in ids if ids.count(case_id) > 1}) == []
