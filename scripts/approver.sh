#!/usr/bin/env bash
# Usage: approver.sh OWNER/REPO RUN_ID
#
# Print "approver=<login>" for the reviewer who last approved a pending deployment of this
# workflow run (GitHub's required reviewers), or "approver=" when no reviewer approved it, as a step output.
# Needs the gh CLI and a token with actions: read in GH_TOKEN.
set -Eeuo pipefail

main() {
  local repository=${1:-} run_id=${2:-}
  [[ $repository =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || { echo "ERROR: invalid repository '${repository}'; expected OWNER/REPO" >&2; exit 2; }
  [[ $run_id =~ ^[0-9]+$ ]] || { echo "ERROR: invalid run id '${run_id}'; expected digits" >&2; exit 2; }
  if ! command -v gh >/dev/null 2>&1; then
    echo "WARNING: gh not found, so the approver is unknown; production deploys will stop for approval" >&2
    echo "approver="
    return
  fi
  local login
  login=$(gh api "repos/${repository}/actions/runs/${run_id}/approvals" --jq '[.[] | select(.state == "approved")] | last | .user.login // ""') || {
    echo "WARNING: reading the run's approvals failed; production deploys will stop for approval" >&2
    login=""
  }
  echo "approver=${login}"
}

main "$@"
