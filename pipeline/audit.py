"""The audit trail: append-only JSON lines per environment, chained by hashes.

Each line carries `prev_hash` (the previous line's hash) and `hash`, the sha256 of the line's
canonical JSON without `hash`. Editing, removing or reordering a line breaks the chain. A tail
cut off the end is found through the head hashes stored elsewhere: in each release record, and
in `audit.head` beside the file, which every new line rewrites.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.commands import files
from pipeline.config import REPO_ROOT
from pipeline.server import EnvContext, actor

log = logging.getLogger("agent_dk")

GENESIS = "0" * 64
LOCAL_AUDIT_DIR = REPO_ROOT / "reports"


def canonical(record: dict[str, Any]) -> str:
    # ASCII only, so no character inside a line can count as a line break for any reader.
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def line_hash(record: dict[str, Any]) -> str:
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def run_url(environ: dict[str, str] | None = None) -> str:
    """Return the CI run's URL when running in GitHub Actions, else an empty string."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return ""


def audit_path(ctx: EnvContext) -> str:
    return f"{ctx.root}/audit.jsonl"


def head_path(ctx: EnvContext) -> str:
    return f"{ctx.root}/audit.head"


def read_stored_head(ctx: EnvContext) -> str:
    """Return the hash that the newest record() stored beside the file, or "" on a server without one."""
    result = ctx.runner.run(files.read_file(head_path(ctx)), check=False, quiet=True)
    return result.stdout.strip() if result.ok else ""


def read_lines(ctx: EnvContext) -> list[str]:
    result = ctx.runner.run(files.read_file(audit_path(ctx)), check=False, quiet=True)
    return [line for line in result.stdout.split("\n") if line] if result.ok else []


def head_hash(ctx: EnvContext) -> str:
    result = ctx.runner.run(files.last_line(audit_path(ctx)), check=False, quiet=True)
    if not result.ok or not result.stdout.strip():
        return GENESIS
    try:
        return str(json.loads(result.stdout)["hash"])
    except (ValueError, KeyError, TypeError):
        # A damaged last line still chains: the next line points at its text's hash, and --verify reports it.
        return hashlib.sha256(result.stdout.strip().encode()).hexdigest()


def record(ctx: EnvContext, action: str, result: str, **fields: Any) -> dict[str, Any]:
    """Append one audit line for this environment, on the server and in the local copy; return it."""
    entry: dict[str, Any] = {
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "environment": ctx.env.name,
        "action": action,
        "result": result,
        "actor": actor(),
        "run_url": run_url(),
    }
    entry.update({key: value for key, value in fields.items() if value not in (None, "")})
    entry["prev_hash"] = head_hash(ctx)
    entry["hash"] = line_hash(entry)
    text = canonical(entry) + "\n"
    ctx.runner.run(files.append_file(audit_path(ctx)), stdin=text, quiet=True)
    # The newest hash, kept apart from the file, finds lines cut off its end after the last release record.
    ctx.runner.run(files.write_file(head_path(ctx), "0600"), stdin=entry["hash"] + "\n", quiet=True)
    append_local(ctx.env.name, text)
    return entry


def append_local(environment: str, text: str) -> None:
    """Keep the run's audit lines in reports/, which CI uploads as an artifact."""
    LOCAL_AUDIT_DIR.mkdir(exist_ok=True)
    with (LOCAL_AUDIT_DIR / f"audit-{environment}.jsonl").open("a") as stream:
        stream.write(text)


@dataclass(frozen=True)
class Verification:
    ok: bool
    lines: int
    message: str


def verify_lines(lines: list[str], expected_heads: list[str]) -> Verification:
    """Check the hash chain of audit lines; `expected_heads` are heads that release records stored."""
    previous = GENESIS
    seen: set[str] = set()
    for number, text in enumerate(lines, start=1):
        try:
            entry = json.loads(text)
        except ValueError:
            return Verification(False, len(lines), f"line {number} is not valid JSON: the file was edited")
        if not isinstance(entry, dict) or "hash" not in entry:
            return Verification(False, len(lines), f"line {number} has no hash: the file was edited")
        if entry.get("prev_hash") != previous:
            return Verification(
                False,
                len(lines),
                f"line {number} does not follow line {number - 1}: a line was removed, inserted or reordered",
            )
        if line_hash(entry) != entry["hash"]:
            return Verification(False, len(lines), f"line {number} was edited: its content does not match its hash")
        previous = entry["hash"]
        seen.add(previous)
    missing = [head for head in expected_heads if head and head != GENESIS and head not in seen]
    if missing:
        return Verification(
            False,
            len(lines),
            f"the release history or audit.head refers to audit line {missing[-1][:12]}..., which is not in the file: "
            "lines were cut off the end",
        )
    return Verification(True, len(lines), f"{len(lines)} lines, chain intact, head {previous[:12]}")


def format_line(entry: dict[str, Any]) -> str:
    parts = [
        entry.get("time", "?"),
        entry.get("action", "?"),
        entry.get("result", "?"),
        f"by {entry.get('actor', '?')}",
    ]
    for key in ("from_version", "to_version", "approved_by", "reason", "run_url"):
        if entry.get(key):
            parts.append(f"{key}={entry[key]}")
    return "  ".join(parts)
