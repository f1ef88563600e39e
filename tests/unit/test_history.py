from __future__ import annotations

from pipeline.history import (
    DEPLOY,
    FAILED,
    ROLLBACK,
    SUCCEEDED,
    ReleaseRecord,
    default_target,
    failed_containers,
    find_version,
    rolled_back_from,
)


def deployed(version: str, sequence: int, result: str = SUCCEEDED) -> ReleaseRecord:
    return ReleaseRecord(DEPLOY, result, version, f"img@{version}", f"c-{version}", "t", "a", sequence=sequence)


def rolled_back(to: str, position: int, from_version: str) -> ReleaseRecord:
    return ReleaseRecord(
        ROLLBACK, SUCCEEDED, to, f"img@{to}", f"c-{to}", "t", "a",
        from_version=from_version, from_image=f"img@{from_version}", position=position,
    )  # fmt: skip


V1, V2, V3 = deployed("v1", 0), deployed("v2", 1), deployed("v3", 2)


def test_default_target_is_previous_release() -> None:
    assert default_target([V1, V2, V3], "img@v3") == V2


def test_repeated_rollbacks_walk_back() -> None:
    records = [V1, V2, V3, rolled_back("v2", 1, "v3")]
    assert default_target(records, "img@v2") == V1


def test_no_target_before_first_release() -> None:
    records = [V1, V2, V3, rolled_back("v2", 1, "v3"), rolled_back("v1", 0, "v2")]
    assert default_target(records, "img@v1") is None


def test_new_deploy_starts_new_head_skipping_rolled_back() -> None:
    records = [V1, V2, V3, rolled_back("v2", 1, "v3"), deployed("v4", 3)]
    assert default_target(records, "img@v4") == V2


def test_failed_deploys_are_never_targets() -> None:
    records = [V1, V2, deployed("v3", -1, FAILED)]
    assert default_target(records, "img@v2") == V1


def test_redeploy_clears_rolled_back_from() -> None:
    records = [V1, V2, rolled_back("v1", 0, "v2"), deployed("v2", 2)]
    assert rolled_back_from(records) == set()


def test_failed_containers_uses_latest_attempt() -> None:
    failed = deployed("v2", -1, FAILED)
    assert failed_containers([failed]) == {"c-v2"}
    assert failed_containers([failed, V2]) == set()


def test_find_version_returns_newest_deploy() -> None:
    again = deployed("v1", 3)
    assert find_version([V1, V2, again], "v1") == again
    assert find_version([V1], "v9") is None
