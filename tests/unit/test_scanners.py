from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline import scanners
from pipeline.commands import security as scanner_cli
from pipeline.errors import InputError
from pipeline.scanners import Finding

DATA = Path(__file__).parent.parent / "data" / "scanners"


def report(name: str) -> str:
    return (DATA / name).read_text()


def finding(severity: str, vulnerability: str = "CVE-2024-0001", *fixed_in: str) -> Finding:
    return Finding("trivy", "openssl", "3.0.11-1", vulnerability, severity, fixed_in)


def test_pip_audit_recorded_report() -> None:
    assert scanners.parse_pip_audit(report("pip-audit.json")) == [
        Finding("pip-audit", "django", "3.2.9", "PYSEC-2021-439", "UNKNOWN", ("2.2.25", "3.1.14", "3.2.10")),
        Finding("pip-audit", "ecdsa", "0.18.0", "GHSA-wj6h-64fc-37mp", "UNKNOWN", ()),
        Finding("pip-audit", "jinja2", "3.1.2", "GHSA-h5c8-rqwp-cp95", "UNKNOWN", ("3.1.3",)),
        Finding("pip-audit", "requests", "2.31.0", "GHSA-9wx4-h78v-vm56", "UNKNOWN", ("2.32.0",)),
    ]


def test_pip_audit_ignores_skipped_dependency() -> None:
    packages = {found.package for found in scanners.parse_pip_audit(report("pip-audit.json"))}
    assert "agent-dk" not in packages


def test_pip_audit_reads_legacy_array() -> None:
    text = '[{"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "PYSEC-2024-1", "fix_versions": ["3.1.3"]}]}]'
    assert scanners.parse_pip_audit(text) == [
        Finding("pip-audit", "jinja2", "3.1.2", "PYSEC-2024-1", "UNKNOWN", ("3.1.3",))
    ]


def test_trivy_recorded_report() -> None:
    assert scanners.parse_trivy(report("trivy.json")) == [
        Finding("trivy", "apt", "2.6.1", "CVE-2011-3374", "LOW", ()),
        Finding("trivy", "libc6", "2.36-9+deb12u1", "CVE-2023-4911", "HIGH", ("2.36-9+deb12u3",)),
        Finding("trivy", "zlib1g", "1:1.2.13.dfsg-1", "CVE-2023-45853", "CRITICAL", ()),
        Finding("trivy", "Django", "3.2.9", "CVE-2021-44420", "HIGH", ("2.2.25", "3.1.14", "3.2.10")),
        Finding("trivy", "Jinja2", "3.1.2", "CVE-2024-22195", "MEDIUM", ("3.1.3",)),
        Finding("trivy", "setuptools", "65.5.1", "CVE-2024-6345", "HIGH", ("70.0.0",)),
    ]


def test_grype_recorded_report() -> None:
    assert scanners.parse_grype(report("grype.json")) == [
        Finding("grype", "Django", "3.2.9", "GHSA-p64x-8rxx-wf6q", "CRITICAL", ("3.2.14",)),
        Finding("grype", "Jinja2", "3.1.2", "GHSA-h5c8-rqwp-cp95", "MEDIUM", ("3.1.3",)),
        Finding("grype", "apt", "2.6.1", "CVE-2011-3374", "NEGLIGIBLE", ()),
        Finding("grype", "libc6", "2.36-9+deb12u1", "CVE-2023-4911", "HIGH", ("2.36-9+deb12u3",)),
        Finding("grype", "setuptools", "65.5.1", "GHSA-cx63-2mw6-8hw5", "HIGH", ("70.0.0",)),
    ]


@pytest.mark.parametrize(
    ("scanner", "name"),
    [("pip-audit", "pip-audit-clean.json"), ("trivy", "trivy-clean.json"), ("grype", "grype-clean.json")],
)
def test_clean_report_has_no_findings(scanner: str, name: str) -> None:
    assert scanners.parse_report(scanner, report(name)) == []


@pytest.mark.parametrize(
    "text",
    [
        '{"SchemaVersion": 2, "Results": [{"Target": "Python", "Vulnerabilities": null}]}',
        '{"SchemaVersion": 2, "Results": [{"Target": "Python"}]}',
        '{"SchemaVersion": 2, "ArtifactName": "agent-dk:v1"}',
        '{"SchemaVersion": 2, "Results": null}',
    ],
)
def test_trivy_clean_target_variants(text: str) -> None:
    assert scanners.parse_trivy(text) == []


@pytest.mark.parametrize(
    ("scanner", "text"),
    [
        (
            "trivy",
            '{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-2024-0001",'
            ' "PkgName": "openssl", "InstalledVersion": "3.0.11-1"}]}]}',
        ),
        (
            "grype",
            '{"matches": [{"vulnerability": {"id": "CVE-2024-0001", "fix": {"versions": [], "state": "unknown"}},'
            ' "artifact": {"name": "openssl", "version": "3.0.11-1"}}]}',
        ),
    ],
)
def test_missing_severity_is_unknown(scanner: str, text: str) -> None:
    [found] = scanners.parse_report(scanner, text)
    assert found.severity == "UNKNOWN"


def test_grype_null_fix_versions() -> None:
    text = (
        '{"matches": [{"vulnerability": {"id": "CVE-2024-0001", "severity": "Low", "fix": {"versions": null}},'
        ' "artifact": {"name": "openssl", "version": "3.0.11-1"}}]}'
    )
    [found] = scanners.parse_grype(text)
    assert found.fixed_in == ()


@pytest.mark.parametrize(
    ("scanner", "name", "parser"),
    [
        ("pip-audit", "pip-audit.json", scanners.parse_pip_audit),
        ("trivy", "trivy.json", scanners.parse_trivy),
        ("grype", "grype.json", scanners.parse_grype),
    ],
)
def test_parse_report_dispatches(scanner: str, name: str, parser: Callable[[str], list[Finding]]) -> None:
    assert scanners.parse_report(scanner, report(name)) == parser(report(name))


def test_parse_report_rejects_unknown_scanner() -> None:
    with pytest.raises(ValueError, match=r"unknown scanner 'snyk': expected one of pip-audit, trivy, grype"):
        scanners.parse_report("snyk", "{}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HIGH", "HIGH"),
        ("high", "HIGH"),
        (" Critical ", "CRITICAL"),
        ("Negligible", "NEGLIGIBLE"),
        ("unknown", "UNKNOWN"),
    ],
)
def test_parse_severity_normalises(text: str, expected: str) -> None:
    assert scanners.parse_severity(text, source="security_threshold") == expected


@pytest.mark.parametrize("text", ["severe", "", "HIGHEST", "4"])
def test_parse_severity_rejects(text: str) -> None:
    with pytest.raises(InputError) as error:
        scanners.parse_severity(text, source="security_threshold")
    message = str(error.value)
    assert message.startswith(f"invalid security_threshold {text!r}: ")
    assert "UNKNOWN, NEGLIGIBLE, LOW, MEDIUM, HIGH, CRITICAL" in message


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        ("CRITICAL", ["CRITICAL"]),
        ("HIGH", ["HIGH", "CRITICAL"]),
        ("medium", ["MEDIUM", "HIGH", "CRITICAL"]),
        ("LOW", ["LOW", "MEDIUM", "HIGH", "CRITICAL"]),
        ("NEGLIGIBLE", ["NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL"]),
        ("UNKNOWN", list(scanners.SEVERITIES)),
    ],
)
def test_at_or_above_threshold(threshold: str, expected: list[str]) -> None:
    findings = [finding(severity) for severity in scanners.SEVERITIES]
    assert [found.severity for found in scanners.at_or_above(findings, threshold)] == expected


def test_at_or_above_high_on_reports() -> None:
    findings = scanners.parse_trivy(report("trivy.json")) + scanners.parse_grype(report("grype.json"))
    high_or_critical = scanners.at_or_above(findings, "HIGH")
    assert [found.vulnerability for found in high_or_critical] == [
        "CVE-2023-4911",
        "CVE-2023-45853",
        "CVE-2021-44420",
        "CVE-2024-6345",
        "GHSA-p64x-8rxx-wf6q",
        "CVE-2023-4911",
        "GHSA-cx63-2mw6-8hw5",
    ]


def test_at_or_above_unknown_keeps_all() -> None:
    findings = (
        scanners.parse_pip_audit(report("pip-audit.json"))
        + scanners.parse_trivy(report("trivy.json"))
        + scanners.parse_grype(report("grype.json"))
    )
    assert scanners.at_or_above(findings, "UNKNOWN") == findings


def test_pip_audit_findings_below_low() -> None:
    findings = scanners.parse_pip_audit(report("pip-audit.json"))
    assert scanners.at_or_above(findings, "LOW") == []


def test_at_or_above_rejects_bad_threshold() -> None:
    with pytest.raises(InputError, match="invalid severity threshold 'urgent'"):
        scanners.at_or_above([finding("HIGH")], "urgent")


def test_finding_rejects_unnormalised_severity() -> None:
    with pytest.raises(ValueError, match="invalid finding severity 'High'"):
        finding("High")


@pytest.mark.parametrize("scanner", scanners.SCANNERS)
@pytest.mark.parametrize("text", ["", "{", "Traceback (most recent call last):", "<html></html>"])
def test_malformed_json_names_scanner(scanner: str, text: str) -> None:
    with pytest.raises(ValueError) as error:
        scanners.parse_report(scanner, text)
    message = str(error.value)
    assert message.startswith(f"invalid {scanner} report: ")
    assert "expected JSON output" in message


@pytest.mark.parametrize(
    ("scanner", "text", "expected"),
    [
        ("pip-audit", '"done"', 'expected the report to be an object, got "done"'),
        ("pip-audit", '{"deps": []}', "expected dependencies to be an array, got null"),
        ("pip-audit", '{"dependencies": [["jinja2"]]}', "expected dependencies[0] to be an object, got an array"),
        ("pip-audit", '{"dependencies": [{"version": "1.0"}]}', "expected dependencies[0].name to be a string"),
        (
            "pip-audit",
            '{"dependencies": [{"name": "jinja2", "version": "3.1.2", "vulns": null}]}',
            "expected dependencies[0].vulns to be an array, got null",
        ),
        (
            "pip-audit",
            '{"dependencies": [{"name": "jinja2", "version": "3.1.2", "vulns": [{"fix_versions": []}]}]}',
            "expected dependencies[0].vulns[0].id to be a string, got null",
        ),
        (
            "pip-audit",
            '{"dependencies": [{"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "X", "fix_versions": [3]}]}]}',
            "expected dependencies[0].vulns[0].fix_versions[0] to be a string, got 3",
        ),
        ("trivy", '[{"Target": "alpine 3.12", "Vulnerabilities": []}]', "expected the report to be an object"),
        ("trivy", '{"Results": []}', "expected SchemaVersion 2, got null"),
        ("trivy", '{"SchemaVersion": 3, "Results": []}', "expected SchemaVersion 2, got 3"),
        ("trivy", '{"SchemaVersion": 2, "Results": {}}', "expected Results to be an array, got an object"),
        (
            "trivy",
            '{"SchemaVersion": 2, "Results": [{"Vulnerabilities": {"CVE-2024-0001": {}}}]}',
            "expected Results[0].Vulnerabilities to be an array, got an object",
        ),
        (
            "trivy",
            '{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-2024-0001",'
            ' "InstalledVersion": "1.0", "Severity": "HIGH"}]}]}',
            "expected Results[0].Vulnerabilities[0].PkgName to be a string, got null",
        ),
        (
            "trivy",
            '{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-2024-0001",'
            ' "PkgName": "openssl", "InstalledVersion": "1.0", "Severity": "SEVERE"}]}]}',
            "expected Results[0].Vulnerabilities[0].Severity to be one of UNKNOWN, NEGLIGIBLE, LOW, MEDIUM, HIGH,"
            ' CRITICAL in any case, got "SEVERE"',
        ),
        ("grype", "{}", "expected matches to be an array, got null"),
        ("grype", '{"matches": {}}', "expected matches to be an array, got an object"),
        (
            "grype",
            '{"matches": [{"vulnerability": {"id": "CVE-2024-0001", "severity": "High"}}]}',
            "expected matches[0].artifact to be an object, got null",
        ),
        (
            "grype",
            '{"matches": [{"vulnerability": {"id": "CVE-2024-0001", "severity": 4},'
            ' "artifact": {"name": "openssl", "version": "1.0"}}]}',
            "expected matches[0].vulnerability.severity to be one of",
        ),
        (
            "grype",
            '{"matches": [{"vulnerability": {"id": "CVE-2024-0001", "fix": {"versions": "1.1"}},'
            ' "artifact": {"name": "openssl", "version": "1.0"}}]}',
            "expected matches[0].vulnerability.fix.versions to be an array",
        ),
    ],
)
def test_wrong_structure_names_scanner(scanner: str, text: str, expected: str) -> None:
    with pytest.raises(ValueError) as error:
        scanners.parse_report(scanner, text)
    message = str(error.value)
    assert message.startswith(f"invalid {scanner} report: ")
    assert expected in message


def test_summarise_most_severe_first() -> None:
    findings = scanners.parse_trivy(report("trivy.json"))
    assert scanners.summarise(findings, "HIGH") == (
        "4 findings at or above HIGH ("
        "CVE-2023-45853 in zlib1g 1:1.2.13.dfsg-1, no fixed version; "
        "CVE-2023-4911 in libc6 2.36-9+deb12u1, fixed in 2.36-9+deb12u3; "
        "CVE-2021-44420 in Django 3.2.9, fixed in 2.2.25, 3.1.14, 3.2.10; "
        "CVE-2024-6345 in setuptools 65.5.1, fixed in 70.0.0)"
    )


def test_summarise_single_finding() -> None:
    findings = [Finding("pip-audit", "jinja2", "3.1.2", "CVE-2024-22195", "HIGH", ("3.1.3",)), finding("LOW")]
    assert scanners.summarise(findings, "high") == (
        "1 finding at or above HIGH (CVE-2024-22195 in jinja2 3.1.2, fixed in 3.1.3)"
    )


def test_summarise_no_findings() -> None:
    assert scanners.summarise([finding("MEDIUM")], "HIGH") == "no findings at or above HIGH"


def test_summarise_counts_past_limit() -> None:
    findings = [finding("HIGH", f"CVE-2024-000{number}") for number in range(1, 5)]
    assert scanners.summarise(findings, "HIGH", limit=2) == (
        "4 findings at or above HIGH ("
        "CVE-2024-0001 in openssl 3.0.11-1, no fixed version; "
        "CVE-2024-0002 in openssl 3.0.11-1, no fixed version; "
        "2 more)"
    )


def test_summarise_rejects_bad_threshold() -> None:
    with pytest.raises(InputError, match="invalid severity threshold 'SEVERE'"):
        scanners.summarise([], "SEVERE")


@pytest.mark.parametrize("image_ref", ["--config=/tmp/grype.yaml", "-o", ""])
def test_grype_rejects_option_image(image_ref: str) -> None:
    with pytest.raises(ValueError, match="invalid image reference"):
        scanner_cli.grype(image_ref)


def test_scanner_commands_keep_image_one_operand() -> None:
    commands = scanner_cli.scanner_commands("registry.test:5000/agent-dk:v1")
    assert commands["trivy"][-2:] == ["--", "registry.test:5000/agent-dk:v1"]
    assert commands["grype"][:2] == ["grype", "registry.test:5000/agent-dk:v1"]
