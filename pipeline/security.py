"""The security check: scan the dependencies and the image, fail on findings at or above a severity."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from pipeline.checks import CheckResult
from pipeline.commands.security import scanner_commands
from pipeline.environments import Environment
from pipeline.errors import InputError
from pipeline.remote import Runner
from pipeline.scanners import SCANNERS, Finding, at_or_above, parse_report, summarise

log = logging.getLogger("agent_dk")

SCAN_TIMEOUT_SECONDS = 600


def parse_report_flag(value: str) -> tuple[str, Path]:
    """Parse --security-report=SCANNER:PATH, a report a scanner wrote earlier (for example in CI)."""
    scanner, _, path = value.partition(":")
    if scanner not in SCANNERS or not path:
        raise InputError(
            f"invalid --security-report {value!r}: expected SCANNER:PATH with SCANNER one of {', '.join(SCANNERS)}"
        )
    report = Path(path)
    if not report.is_file():
        raise InputError(f"--security-report file {path!r} not found: give the path of a report that {scanner} wrote")
    return scanner, report


def security_results(
    env: Environment, image_ref: str, runner: Runner, reports: list[tuple[str, Path]]
) -> list[CheckResult]:
    findings: list[Finding] = []
    sources: list[str] = []
    problems: list[str] = []
    for scanner, path in reports:
        try:
            findings += parse_report(scanner, path.read_text())
            sources.append(f"{scanner} report {path.name}")
        except ValueError as error:
            problems.append(f"{path}: {error}")
    if not reports:
        for scanner, argv in scanner_commands(image_ref).items():
            if shutil.which(argv[0]) is None:
                continue
            result = runner.run(argv, check=False, timeout=SCAN_TIMEOUT_SECONDS)
            try:
                findings += parse_report(scanner, result.stdout)
                sources.append(scanner)
            except ValueError:
                tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
                problems.append(f"{scanner} failed (exit {result.exit_code}): {tail[0]}")

    if problems and not sources:
        return [CheckResult("security", "warn", "no scan completed: " + "; ".join(problems))]
    if not sources:
        return [
            CheckResult(
                "security",
                "warn",
                "no scanner installed (pip-audit, trivy or grype) and no --security-report given; nothing was scanned",
            )
        ]
    threshold = env.security_threshold
    blocking = at_or_above(findings, threshold)
    results = []
    if blocking:
        results.append(CheckResult("security", "fail", summarise(blocking, threshold)))
    else:
        results.append(
            CheckResult(
                "security",
                "pass",
                f"{len(findings)} findings, none at or above {threshold} (from {', '.join(sources)})",
            )
        )
    results += [CheckResult("security", "warn", problem) for problem in problems]
    return results
