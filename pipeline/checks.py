"""Check results: the `RESULT <check> <status> <message>` lines the check scripts print."""

from __future__ import annotations

import re
from dataclasses import dataclass

STATUSES = ("pass", "fail", "warn", "skip")
RESULT_PATTERN = re.compile(r"RESULT (\S+) (pass|fail|warn|skip) ?(.*)")


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: str
    message: str

    def line(self) -> str:
        return f"RESULT {self.check} {self.status} {self.message}"


def parse_results(output: str) -> list[CheckResult]:
    """Parse every RESULT line of a script's output; other lines are ignored."""
    results = []
    for line in output.splitlines():
        match = RESULT_PATTERN.fullmatch(line.strip())
        if match:
            results.append(CheckResult(*match.groups()))
    return results


def apply_policy(
    results: list[CheckResult], *, production: bool, strict_checks: tuple[str, ...], overridden: dict[str, str]
) -> list[CheckResult]:
    """Turn production warnings of strict checks into failures, and overridden failures into warnings.

    `overridden` maps a check name to the reason an operator gave for overriding it.
    """
    adjusted = []
    for result in results:
        status, message = result.status, result.message
        if production and status == "warn" and result.check in strict_checks:
            status = "fail"
            message += f" (production treats this warning as a failure; --override={result.check} --reason=TEXT)"
        if status == "fail" and result.check in overridden:
            status = "warn"
            message = f"overridden ({overridden[result.check]}): {message}"
        adjusted.append(CheckResult(result.check, status, message))
    return adjusted


def failed(results: list[CheckResult]) -> list[CheckResult]:
    return [result for result in results if result.status == "fail"]
