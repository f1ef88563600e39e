"""The workflows call tasks that exist, in the stage order, with production behind its gate."""

from __future__ import annotations

import re
from pathlib import Path

import nox
import pytest
from invoke import Collection

import noxfile
import tasks
from pipeline.config import DEFAULT_CONFIG
from pipeline.environments import environments_from, load_config
from tests.workflow_runs import EXPRESSION, WORKFLOWS, load, task_calls

COLLECTION = Collection.from_module(tasks)
MAKE_TARGETS = set(
    re.findall(r"^([a-z][a-z-]*):", (Path(__file__).resolve().parents[2] / "Makefile").read_text(), re.M)
)
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def all_steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("name", sorted(path.name for path in WORKFLOWS.glob("*.yml")))
def test_workflow_commands_exist(name: str) -> None:
    for step in all_steps(load(name)):
        for call in task_calls(step.get("run", "")):
            if call.tool == "invoke":
                assert call.name in COLLECTION.task_names, f"{name}: invoke {call.name} is not a task"
                task = COLLECTION[call.name]
                flags = {f"--{argument.name.replace('_', '-')}" for argument in task.get_arguments()}
                for flag in call.flags:
                    assert flag in flags, f"{name}: invoke {call.name} has no flag {flag}"
            elif call.tool == "nox":
                assert call.name in nox.registry.get(), f"{name}: nox has no session {call.name}"
            else:
                assert call.name in MAKE_TARGETS, f"{name}: make has no target {call.name}"


@pytest.mark.parametrize("name", sorted(path.name for path in WORKFLOWS.glob("*.yml")))
def test_workflow_conventions(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job_name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{name}: job {job_name} sets no permissions"
    for step in all_steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{name}: {step['uses']} is not pinned to a full commit SHA"
        for expression in EXPRESSION.findall(step.get("run", "")):
            pytest.fail(f"{name}: run: script uses the expression {expression!r}; pass it through env instead")


def test_deploy_job_order() -> None:
    jobs = load("deploy.yml")["jobs"]
    assert list(jobs) == ["metadata", "build-test", "image", "prechecks", "deploy", "validate", "notify"]
    assert jobs["build-test"]["needs"] == ["metadata"]
    assert jobs["image"]["needs"] == ["metadata", "build-test"]
    assert jobs["prechecks"]["needs"] == ["metadata", "image"]
    assert jobs["deploy"]["needs"] == ["metadata", "prechecks"]
    assert jobs["validate"]["needs"] == ["metadata", "deploy"]
    assert jobs["notify"]["if"] == "always()"


def test_deploy_job_uses_full_environment_name() -> None:
    deploy = load("deploy.yml")["jobs"]["deploy"]
    assert deploy["environment"] == "${{ needs.metadata.outputs.github_environment }}"
    assert deploy["concurrency"]["cancel-in-progress"] is False
    metadata_outputs = load("deploy.yml")["jobs"]["metadata"]["outputs"]
    assert "github_environment" in metadata_outputs


def test_production_maps_to_production_environment() -> None:
    environments = environments_from(load_config(DEFAULT_CONFIG))
    assert environments["prod"].github_environment == "production"
    assert environments["stg"].github_environment == "staging"
    assert environments["uat"].github_environment == "uat"


def test_rollback_workflow_gate() -> None:
    workflow = load("rollback.yml")
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["uat", "staging", "production"]
    assert inputs["reason"]["required"] is True
    jobs = workflow["jobs"]
    assert list(jobs) == ["prepare", "execute", "validate", "notify"]
    assert jobs["execute"]["environment"] == "${{ inputs.environment }}"
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_nox_sessions_listed() -> None:
    assert {"lint", "unit", "integration", "tests"} <= set(nox.registry.get())
    assert noxfile.WORKFLOWS
