from __future__ import annotations

import pytest

from pipeline.approval import require_approval
from pipeline.environments import Environment
from pipeline.errors import InputError

PROD = Environment("prod", ("production",), "production", "main", 38080, "agent-dk-prod", approval=True)
UAT = Environment("uat", (), "uat", "develop", 18080, "agent-dk-uat")


def test_uat_needs_no_approval() -> None:
    assert require_approval(UAT, None, action="deploy", interactive=False) is None


def test_prod_without_terminal_or_flag_rejected() -> None:
    with pytest.raises(InputError) as error:
        require_approval(PROD, None, action="deploy", interactive=False)
    assert error.value.exit_code == 2
    assert "--approved-by=NAME" in str(error.value)


def test_prod_approved_by_flag() -> None:
    approval = require_approval(PROD, "alice", action="deploy", interactive=False)
    assert approval is not None
    assert approval.approver == "alice"
    assert approval.method == "--approved-by"


@pytest.mark.parametrize("name", ["", "   ", "alice\nbob", "alice\x1b[31m"])
def test_prod_rejects_bad_approver(name: str) -> None:
    with pytest.raises(InputError, match="invalid --approved-by"):
        require_approval(PROD, name, action="deploy", interactive=False)


def test_prod_typed_confirmation() -> None:
    approval = require_approval(PROD, None, action="deploy", interactive=True, prompt=lambda _: "prod\n")
    assert approval is not None
    assert approval.method == "typed confirmation in a terminal"


def test_prod_wrong_confirmation_rejected() -> None:
    with pytest.raises(InputError, match="approval for prod not given"):
        require_approval(PROD, None, action="deploy", interactive=True, prompt=lambda _: "yes")
