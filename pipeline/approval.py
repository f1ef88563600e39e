"""The approval gate for environments that require it (production).

The tool records who approved and how; it cannot prove it. In CI the real gate is the GitHub
environment's required reviewers, and the job passes the approving reviewer as --approved-by.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.environments import Environment
from pipeline.errors import InputError
from pipeline.server import actor
from pipeline.validate import single_line


@dataclass(frozen=True)
class Approval:
    approver: str
    method: str


def require_approval(
    env: Environment,
    approved_by: str | None,
    *,
    action: str,
    interactive: bool | None = None,
    prompt: Callable[[str], str] = input,
) -> Approval | None:
    """Return who approved a change to `env`, or None when it needs no approval; raise InputError otherwise."""
    if not env.approval:
        return None
    if approved_by is not None:
        return Approval(single_line(approved_by, source="--approved-by"), "--approved-by")
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise InputError(
            f"a {action} of {env.name} requires approval: run it in a terminal and type the environment name, "
            "or pass --approved-by=NAME with the reviewer who approved it"
        )
    answer = prompt(f"A {action} of {env.name} requires approval. Type '{env.name}' to approve: ")
    if answer.strip() != env.name:
        raise InputError(f"approval for {env.name} not given (typed {answer.strip()!r}); nothing was changed")
    return Approval(actor(), "typed confirmation in a terminal")
