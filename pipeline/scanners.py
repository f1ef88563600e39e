"""Parse the JSON reports of pip-audit, trivy and grype into findings, and filter them by severity.

Nothing here runs a scanner: the security check runs it and passes its standard output to parse_report.
A report that is not JSON or not in the scanner's layout raises ValueError naming the scanner and the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.errors import InputError

# Lowest first. NEGLIGIBLE is grype's level below LOW, and UNKNOWN is what trivy and grype report for a
# vulnerability that no data source rates.
# NOTE: UNKNOWN is the lowest level, so unrated findings (every pip-audit finding among them) pass any
# threshold above UNKNOWN. A check that must block on them has to handle them separately.
SEVERITIES = ("UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

THRESHOLD_SOURCE = "severity threshold"


@dataclass(frozen=True)
class Finding:
    """One vulnerability in one installed package, as a scanner reported it."""

    scanner: str
    package: str
    version: str
    vulnerability: str
    severity: str
    fixed_in: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.severity not in _RANK:
            raise ValueError(
                f"invalid finding severity {self.severity!r}: expected one of {', '.join(SEVERITIES)}, "
                "as parse_severity returns it"
            )


def parse_severity(text: str, *, source: str) -> str:
    """Normalise a severity name to upper case, raising InputError that names the value and the valid names."""
    name = text.strip().upper() if isinstance(text, str) else ""
    if name not in _RANK:
        raise InputError(f"invalid {source} {text!r}: expected one of {', '.join(SEVERITIES)} (any case)")
    return name


def parse_pip_audit(text: str) -> list[Finding]:
    """Parse the output of `pip-audit --format json`.

    pip-audit 2.x writes {"dependencies": [...], "fixes": [...]}, and 1.x wrote the dependency array alone.
    Both are read.
    """
    reader = _ReportReader("pip-audit")
    report = reader.decode(text)
    if isinstance(report, list):
        dependencies = report
    else:
        report = reader.require_object(report, "the report")
        dependencies = reader.require_array(report.get("dependencies"), "dependencies")

    findings = []
    for index, item in enumerate(dependencies):
        where = f"dependencies[{index}]"
        dependency = reader.require_object(item, where)
        name = reader.require_string(dependency.get("name"), f"{where}.name")
        # NOTE: a dependency pip-audit could not audit (not on the index, for example) has a skip_reason and
        # no vulns, so it yields no finding. Run pip-audit with --strict to fail on it instead.
        if "skip_reason" in dependency:
            continue
        version = reader.require_string(dependency.get("version"), f"{where}.version")
        for vuln_index, vuln_item in enumerate(reader.require_array(dependency.get("vulns"), f"{where}.vulns")):
            vuln_where = f"{where}.vulns[{vuln_index}]"
            vuln = reader.require_object(vuln_item, vuln_where)
            findings.append(
                Finding(
                    scanner="pip-audit",
                    package=name,
                    version=version,
                    vulnerability=reader.require_string(vuln.get("id"), f"{vuln_where}.id"),
                    # pip-audit's JSON has no severity field, so every pip-audit finding is UNKNOWN.
                    severity="UNKNOWN",
                    fixed_in=reader.require_strings(vuln.get("fix_versions"), f"{vuln_where}.fix_versions"),
                )
            )
    return findings


def parse_trivy(text: str) -> list[Finding]:
    """Parse the output of `trivy image --format json` in SchemaVersion 2, the layout of trivy 0.20 and later.

    Only vulnerabilities become findings: misconfigurations and secrets in the same report are ignored.
    """
    reader = _ReportReader("trivy")
    report = reader.require_object(reader.decode(text), "the report")
    if report.get("SchemaVersion") != 2:
        raise reader.error(f"expected SchemaVersion 2, got {_json_value(report.get('SchemaVersion'))}")

    findings = []
    # Trivy leaves out Results when no target has anything to report, and leaves out or nulls the
    # Vulnerabilities of a clean target.
    for result_index, result_item in enumerate(reader.optional_array(report.get("Results"), "Results")):
        result_where = f"Results[{result_index}]"
        result = reader.require_object(result_item, result_where)
        vulns = reader.optional_array(result.get("Vulnerabilities"), f"{result_where}.Vulnerabilities")
        for vuln_index, vuln_item in enumerate(vulns):
            where = f"{result_where}.Vulnerabilities[{vuln_index}]"
            vuln = reader.require_object(vuln_item, where)
            fixed_version = reader.optional_string(vuln.get("FixedVersion"), f"{where}.FixedVersion")
            findings.append(
                Finding(
                    scanner="trivy",
                    package=reader.require_string(vuln.get("PkgName"), f"{where}.PkgName"),
                    version=reader.require_string(vuln.get("InstalledVersion"), f"{where}.InstalledVersion"),
                    vulnerability=reader.require_string(vuln.get("VulnerabilityID"), f"{where}.VulnerabilityID"),
                    severity=reader.severity(vuln.get("Severity"), f"{where}.Severity"),
                    # Trivy joins several fixed versions with ", ", e.g. "2.2.25, 3.1.14, 3.2.10".
                    fixed_in=tuple(part.strip() for part in fixed_version.split(",") if part.strip()),
                )
            )
    return findings


def parse_grype(text: str) -> list[Finding]:
    """Parse the output of `grype -o json`."""
    reader = _ReportReader("grype")
    report = reader.require_object(reader.decode(text), "the report")

    findings = []
    for index, item in enumerate(reader.require_array(report.get("matches"), "matches")):
        where = f"matches[{index}]"
        match = reader.require_object(item, where)
        vuln = reader.require_object(match.get("vulnerability"), f"{where}.vulnerability")
        artifact = reader.require_object(match.get("artifact"), f"{where}.artifact")
        # Grype always writes fix.versions, but a missing or null fix is read as "no fixed version".
        fix = reader.optional_object(vuln.get("fix"), f"{where}.vulnerability.fix")
        findings.append(
            Finding(
                scanner="grype",
                package=reader.require_string(artifact.get("name"), f"{where}.artifact.name"),
                version=reader.require_string(artifact.get("version"), f"{where}.artifact.version"),
                vulnerability=reader.require_string(vuln.get("id"), f"{where}.vulnerability.id"),
                severity=reader.severity(vuln.get("severity"), f"{where}.vulnerability.severity"),
                fixed_in=reader.require_strings(
                    fix.get("versions", []), f"{where}.vulnerability.fix.versions", allow_null=True
                ),
            )
        )
    return findings


_PARSERS: dict[str, Callable[[str], list[Finding]]] = {
    "pip-audit": parse_pip_audit,
    "trivy": parse_trivy,
    "grype": parse_grype,
}
SCANNERS = tuple(_PARSERS)


def parse_report(scanner: str, text: str) -> list[Finding]:
    """Parse the JSON report of the named scanner: "pip-audit", "trivy" or "grype"."""
    parser = _PARSERS.get(scanner)
    if parser is None:
        raise ValueError(f"unknown scanner {scanner!r}: expected one of {', '.join(SCANNERS)}")
    return parser(text)


def at_or_above(findings: list[Finding], threshold: str) -> list[Finding]:
    """Return the findings whose severity is at or above the threshold, in their original order.

    Raises InputError for a threshold that is not a severity name.
    """
    minimum = _RANK[parse_severity(threshold, source=THRESHOLD_SOURCE)]
    return [finding for finding in findings if _RANK[finding.severity] >= minimum]


def summarise(findings: list[Finding], threshold: str, *, limit: int = 10) -> str:
    """Describe the findings at or above the threshold in one line, most severe first.

    At most `limit` findings are listed by name, and the rest are counted.
    """
    level = parse_severity(threshold, source=THRESHOLD_SOURCE)
    selected = sorted(at_or_above(findings, level), key=lambda finding: _RANK[finding.severity], reverse=True)
    if not selected:
        return f"no findings at or above {level}"

    noun = "finding" if len(selected) == 1 else "findings"
    details = [_describe(finding) for finding in selected[:limit]]
    if len(selected) > limit:
        details.append(f"{len(selected) - limit} more")
    return f"{len(selected)} {noun} at or above {level} ({'; '.join(details)})"


def _describe(finding: Finding) -> str:
    fix = f"fixed in {', '.join(finding.fixed_in)}" if finding.fixed_in else "no fixed version"
    return f"{finding.vulnerability} in {finding.package} {finding.version}, {fix}"


@dataclass(frozen=True)
class _ReportReader:
    """Typed access to one scanner's decoded report. Each mismatch raises ValueError naming the scanner and field."""

    scanner: str

    def error(self, detail: str) -> ValueError:
        return ValueError(f"invalid {self.scanner} report: {detail}")

    def decode(self, text: str) -> Any:
        try:
            return json.loads(text)
        except (json.JSONDecodeError, TypeError) as error:
            raise self.error(f"expected JSON output ({error})") from None

    def require_object(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(f"expected {where} to be an object, got {_json_value(value)}")
        return value

    def optional_object(self, value: Any, where: str) -> dict[str, Any]:
        return {} if value is None else self.require_object(value, where)

    def require_array(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(f"expected {where} to be an array, got {_json_value(value)}")
        return value

    def optional_array(self, value: Any, where: str) -> list[Any]:
        return [] if value is None else self.require_array(value, where)

    def require_string(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.error(f"expected {where} to be a string, got {_json_value(value)}")
        return value

    def optional_string(self, value: Any, where: str) -> str:
        return "" if value is None else self.require_string(value, where)

    def require_strings(self, value: Any, where: str, *, allow_null: bool = False) -> tuple[str, ...]:
        items = self.optional_array(value, where) if allow_null else self.require_array(value, where)
        return tuple(self.require_string(item, f"{where}[{index}]") for index, item in enumerate(items))

    def severity(self, value: Any, where: str) -> str:
        # Trivy and grype leave the severity out when it is empty, and an unrated vulnerability is UNKNOWN.
        if value is None:
            return "UNKNOWN"
        name = value.strip().upper() if isinstance(value, str) else ""
        if name not in _RANK:
            raise self.error(
                f"expected {where} to be one of {', '.join(SEVERITIES)} in any case, got {_json_value(value)}"
            )
        return name


def _json_value(value: Any) -> str:
    """Render a decoded JSON value for an error message, shortened to 60 characters."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    rendered = json.dumps(value)
    return rendered if len(rendered) <= 60 else rendered[:57] + "..."
