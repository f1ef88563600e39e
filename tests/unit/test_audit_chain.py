from __future__ import annotations

import json

from pipeline.audit import GENESIS, canonical, line_hash, verify_lines


def chain(count: int) -> list[str]:
    lines, previous = [], GENESIS
    for number in range(count):
        entry = {"action": "deploy", "result": "succeeded", "to_version": f"v{number}", "prev_hash": previous}
        entry["hash"] = line_hash(entry)
        previous = entry["hash"]
        lines.append(canonical(entry))
    return lines


def head(lines: list[str]) -> str:
    return json.loads(lines[-1])["hash"]


def test_intact_chain_verifies() -> None:
    lines = chain(4)
    assert verify_lines(lines, [head(lines)]).ok


def test_edited_line_is_named() -> None:
    lines = chain(4)
    lines[1] = lines[1].replace('"v1"', '"v9"')
    outcome = verify_lines(lines, [])
    assert not outcome.ok
    assert outcome.message == "line 2 was edited: its content does not match its hash"


def test_removed_line_is_named() -> None:
    lines = chain(4)
    del lines[1]
    outcome = verify_lines(lines, [])
    assert not outcome.ok
    assert outcome.message.startswith("line 2 does not follow line 1")


def test_reordered_lines_are_detected() -> None:
    lines = chain(4)
    lines[1], lines[2] = lines[2], lines[1]
    assert not verify_lines(lines, []).ok


def test_cut_tail_is_detected_by_stored_head() -> None:
    lines = chain(4)
    stored = head(lines)
    outcome = verify_lines(lines[:-1], [stored])
    assert not outcome.ok
    assert "cut off the end" in outcome.message


def test_invalid_json_line_is_named() -> None:
    lines = [*chain(2), "{not json"]
    assert verify_lines(lines, []).message == "line 3 is not valid JSON: the file was edited"
