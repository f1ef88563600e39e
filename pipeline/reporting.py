"""Governance reports of deploy, rollback and check runs: what goes into each section."""

from __future__ import annotations

from pipeline import audit, gitinfo
from pipeline.approval import Approval
from pipeline.checks import CheckResult
from pipeline.config import REPO_ROOT
from pipeline.deploy import DeployResult
from pipeline.report import Report
from pipeline.server import EnvContext, actor


def new_report(
    ctx: EnvContext,
    kind: str,
    version: str,
    *,
    approval: Approval | None = None,
    overrides: dict[str, str] | None = None,
) -> Report:
    """Start a governance report with the run's metadata and how it was approved."""
    env = ctx.env
    report = Report(
        title=f"{kind.capitalize()} of {env.name} to {version}",
        kind=kind,
        metadata={
            "environment": env.name,
            "version": version,
            "image": ctx.settings.image_ref(version),
            "front container": env.container,
            "port": env.port,
            "git_sha": gitinfo.head_sha_or_unknown(REPO_ROOT),
            "actor": actor(),
            "run_url": audit.run_url() or "-",
            "server": ctx.runner.where,
        },
    )
    report.deployment = {
        "strategy": env.strategy,
        "approval": {"approver": approval.approver, "method": approval.method} if approval else "not required",
        "overrides": dict(overrides or {}) or "none",
    }
    return report


def record_outcome(report: Report, result: DeployResult) -> None:
    report.deployment.update(
        {
            "from": f"{result.from_version or '-'} ({result.from_image or '-'})",
            "to": f"{result.version} ({result.image})",
            "container": result.container,
            "outcome": result.message,
        }
    )
    if result.changed:
        report.validation += [
            CheckResult(
                "health gate", "pass", f"Docker reported {result.container} healthy and it reported {result.version}"
            ),
            CheckResult("external port", "pass", f"the environment's port reported {result.version} after the switch"),
        ]
    else:
        report.result = "unchanged"
