from __future__ import annotations

import pytest

from pipeline.checks import CheckResult, apply_policy, parse_results
from pipeline.cli import parse_overrides
from pipeline.errors import InputError
from pipeline.prechecks import parse_only

OUTPUT = """\
noise before
RESULT backup warn no backup location configured for prod
RESULT disk pass 79897 MiB free on /var/lib/docker
RESULT network fail port: 38080 is held by container other
RESULT gpu skip prod requests no GPUs
"""


def test_parse_results_reads_result_lines() -> None:
    results = parse_results(OUTPUT)
    assert [result.check for result in results] == ["backup", "disk", "network", "gpu"]
    assert results[2] == CheckResult("network", "fail", "port: 38080 is held by container other")


def test_production_turns_strict_warnings_into_failures() -> None:
    results = apply_policy(parse_results(OUTPUT), production=True, strict_checks=("backup",), overridden={})
    assert results[0].status == "fail"
    assert "--override=backup" in results[0].message


def test_non_production_keeps_warnings() -> None:
    results = apply_policy(parse_results(OUTPUT), production=False, strict_checks=("backup",), overridden={})
    assert results[0].status == "warn"


def test_override_turns_failure_into_warning() -> None:
    results = apply_policy(
        parse_results(OUTPUT), production=True, strict_checks=("backup",), overridden={"backup": "restore tested"}
    )
    assert results[0].status == "warn"
    assert results[0].message.startswith("overridden (restore tested): ")
    assert results[2].status == "fail"


def test_parse_overrides() -> None:
    assert parse_overrides("freeze,security", "hotfix for outage") == {
        "freeze": "hotfix for outage",
        "security": "hotfix for outage",
    }


@pytest.mark.parametrize(
    ("override", "reason", "expected"),
    [
        ("freeze", None, "needs --reason"),
        ("freeze", "", "it is empty"),
        ("freeze", "two\nlines", "contains a newline"),
        ("frezee", "typo", "invalid --override 'frezee'"),
        (None, "tab\there", "control character"),
    ],
)
def test_parse_overrides_rejects(override: str | None, reason: str | None, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        parse_overrides(override, reason)


def test_parse_only_rejects_unknown_check() -> None:
    with pytest.raises(InputError, match="invalid --only 'disk,gpus'"):
        parse_only("disk,gpus")


def test_parse_only_defaults_to_all() -> None:
    assert parse_only(None) == ("backup", "freeze", "security", "disk", "network", "gpu")
