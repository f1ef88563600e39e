"""Lint and test sessions. Extra arguments after `--` go to pytest (or to ruff for lint)."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests"]

PYTHON = "3.11"
REQUIREMENTS = "requirements/dev.txt"
SHELL_SCRIPTS = [*sorted(str(path) for path in Path("scripts").glob("*.sh")), ".ci/run"]
WORKFLOWS = sorted(str(path) for path in Path(".github/workflows").glob("*.yml"))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check style and common bugs in Python and shell."""
    session.install("--quiet", "-r", REQUIREMENTS)
    session.run("ruff", "check", *session.posargs, ".")
    session.run("ruff", "format", "--check", ".")
    session.run("flake8")
    session.run("shellcheck", *SHELL_SCRIPTS, external=True)
    # actionlint also runs shellcheck on every run: script of the workflows.
    session.run("actionlint", *WORKFLOWS)
    session.run("zizmor", "--offline", ".github/workflows")
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)


@nox.session(python=PYTHON)
def unit(session: nox.Session) -> None:
    """Run the unit tests: no network, no Docker."""
    session.install("--quiet", "-r", REQUIREMENTS)
    session.run("pytest", "-m", "unit", *session.posargs)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Run the integration tests against the running sandbox (make sandbox-up)."""
    session.install("--quiet", "-r", REQUIREMENTS)
    session.run("pytest", "-m", "integration", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the unit and integration tests in one pytest run, with coverage."""
    session.install("--quiet", "-r", REQUIREMENTS)
    session.run(
        "pytest",
        "-m",
        "unit or integration",
        "--cov=pipeline",
        "--cov=app",
        "--cov-report=term-missing:skip-covered",
        "--cov-fail-under=80",
        *session.posargs,
    )
