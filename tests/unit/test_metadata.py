from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import DEFAULT_CONFIG, load_settings
from pipeline.errors import InputError
from pipeline.metadata import github_output_lines, resolve

NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)


def git(repo: Path, *args: str) -> str:
    completed = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return completed.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "config", "user.name", "Test")
    (path / "app.txt").write_text("v1\n")
    git(path, "add", "app.txt")
    git(path, "commit", "-q", "-m", "first")
    return path


@pytest.fixture
def settings(tmp_path: Path):
    env_file = tmp_path / "empty.env"
    env_file.write_text("REGISTRY=Registry.Example.Internal:5000\n")
    return load_settings(DEFAULT_CONFIG, {"AGENT_DK_ENV_FILE": str(env_file)})


@pytest.mark.parametrize(
    ("branch", "environment", "port"), [("develop", "uat", 18080), ("release", "stg", 28080), ("main", "prod", 38080)]
)
def test_metadata_from_branch(repo: Path, settings, branch: str, environment: str, port: int) -> None:
    git(repo, "checkout", "-q", "-B", branch)
    result = resolve(settings, repo, environ={}, now=NOW)
    assert result.environment == environment
    assert result.port == port
    assert result.container == f"agent-dk-{environment}"
    assert result.version == git(repo, "rev-parse", "--short=12", "HEAD")
    assert result.image == f"registry.example.internal:5000/agent-dk:{result.version}"
    assert result.timestamp == "2026-12-04T17:00:00Z"


def test_metadata_rejects_unmapped_branch(repo: Path, settings) -> None:
    git(repo, "checkout", "-q", "-b", "feature/x")
    with pytest.raises(InputError) as error:
        resolve(settings, repo, environ={}, now=NOW)
    assert "branch 'feature/x' deploys to no environment" in str(error.value)
    assert "develop -> uat" in str(error.value)
    assert "pass --env" in str(error.value)


def test_metadata_env_flag_overrides_branch(repo: Path, settings) -> None:
    git(repo, "checkout", "-q", "-b", "feature/x")
    result = resolve(settings, repo, env_name="staging", environ={}, now=NOW)
    assert result.environment == "stg"
    assert result.github_environment == "staging"


def test_metadata_uses_github_ref_name(repo: Path, settings) -> None:
    git(repo, "checkout", "-q", "--detach")
    result = resolve(settings, repo, environ={"GITHUB_REF_NAME": "release"}, now=NOW)
    assert result.environment == "stg"


def test_metadata_custom_version_keeps_case(repo: Path, settings) -> None:
    result = resolve(settings, repo, env_name="uat", version="Release-1.2", environ={}, now=NOW)
    assert result.image == "registry.example.internal:5000/agent-dk:Release-1.2"


@pytest.mark.parametrize("version", ["feature/x", "bad tag", "a" * 129, "-v1"])
def test_metadata_rejects_bad_version(repo: Path, settings, version: str) -> None:
    with pytest.raises(InputError, match="invalid --version"):
        resolve(settings, repo, env_name="uat", version=version, environ={}, now=NOW)


def test_metadata_flags_dirty_tree(repo: Path, settings) -> None:
    (repo / "app.txt").write_text("changed\n")
    result = resolve(settings, repo, env_name="uat", environ={}, now=NOW)
    assert result.dirty is True
    assert result.version.endswith("-dirty")


def test_metadata_rejects_dirty_tree_for_prod(repo: Path, settings) -> None:
    (repo / "app.txt").write_text("changed\n")
    with pytest.raises(InputError, match="uncommitted changes; prod only takes committed code"):
        resolve(settings, repo, env_name="prod", environ={}, now=NOW)


def test_github_output_lines(repo: Path, settings) -> None:
    text = github_output_lines(resolve(settings, repo, env_name="prod", environ={}, now=NOW))
    assert "environment=prod\n" in text
    assert "github_environment=production\n" in text
    assert "approval_required=true\n" in text
    assert "port=38080\n" in text
