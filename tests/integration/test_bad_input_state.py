"""Every bad input of the catalogue, aimed at the live sandbox, leaves the server byte-identical.

The unit run of the catalogue aims at a closed port, so it shows that each input is rejected
before a connection. Here the same cases get the sandbox's real settings, so a case that slipped
past validation would reach the server, and the state comparison would catch what it changed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.bad_inputs import CASES, CASES_BY_SOURCE, Case, assert_rejected, run_case
from tests.integration.conftest import SANDBOX_ENV_FILE, TEST_CONFIG, ReleaseImages, Sandbox

# Each case is a Python start-up; two at a time keep both cores of a CI machine busy.
WORKERS = 2


def test_bad_inputs_leave_server_byte_identical(
    sandbox: Sandbox, images: ReleaseImages, figures: dict, tmp_path: Path
) -> None:
    assert sandbox.invoke("deploy", "--env=uat", f"--version={images.v1}").returncode == 0
    before = sandbox.state()

    def rejected(numbered: tuple[int, Case]) -> str | None:
        number, case = numbered
        completed = run_case(case, tmp_path / str(number), base_env=SANDBOX_ENV_FILE, base_config=TEST_CONFIG)
        try:
            assert_rejected(case, completed)
        except AssertionError as error:
            return str(error)
        return None

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        failures = [failure for failure in pool.map(rejected, enumerate(CASES)) if failure]
    figures["bad_inputs"].append(
        {
            "cases": len(CASES),
            "rejected": len(CASES) - len(failures),
            "by_source": {source: len(cases) for source, cases in CASES_BY_SOURCE.items()},
        }
    )
    assert failures == []
    after = sandbox.state()
    assert sorted(set(before) ^ set(after)) == []
    assert {path: after[path] for path in before if after[path] != before[path]} == {}
