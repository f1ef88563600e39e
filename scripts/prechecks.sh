#!/usr/bin/env bash
# Usage: prechecks.sh [OPTIONS] CHECK...|all
#
# Pre-deployment checks that belong on the target server. `invoke prechecks` sends this script
# over SSH on stdin (bash -s -- OPTIONS CHECKS); it also runs by hand on the server.
# Checks: backup, disk, network, gpu. freeze and security are checked where the pipeline runs
# and report "skip" here. Each check prints one line:
#   RESULT <check> <pass|fail|warn|skip> <message>
# and the script exits 1 when any check fails, 2 on invalid arguments.
#
# Options (defaults in brackets):
#   --env NAME                 environment the checks are for [uat]
#   --port N                   the environment's external port [18080]
#   --registry HOST[:PORT]     registry the server pulls from [none: not checked]
#   --state-dir DIR            the environment's state directory [$HOME/.agent-dk/ENV]
#   --min-free-mb N            minimum free space for Docker's data, in MiB [5000]
#   --image-size-mb N          size of the image to pull, in MiB [0]
#   --min-state-free-mb N      minimum free space for the state directory, in MiB [100]
#   --backup-path PATH         marker file or directory written by the backup job [none]
#   --backup-max-age-hours N   maximum age of the latest backup [26]
#   --production               no backup location is a warning instead of a skip
#   --gpus all|none|device=N,M GPUs the environment requests [none]
#   --gpu-memory-mb N          GPU memory one release needs, for the strategy hint [0: unknown]
set -Eeuo pipefail

ENV_NAME=uat
PORT=18080
REGISTRY=""
STATE_DIR=""
MIN_FREE_MB=5000
IMAGE_SIZE_MB=0
MIN_STATE_FREE_MB=100
BACKUP_PATH=""
BACKUP_MAX_AGE_HOURS=26
PRODUCTION=0
GPUS=none
GPU_MEMORY_MB=0
ALL_CHECKS=(backup disk network gpu freeze security)
FAILED=0

usage() { sed -n '2,26p' "${BASH_SOURCE[0]}" 2>/dev/null | sed 's/^# \{0,1\}//' || true; }
die_usage() { printf 'ERROR: %s\n' "$*" >&2; exit 2; }

result() {
  local check=$1 status=$2
  shift 2
  printf 'RESULT %s %s %s\n' "$check" "$status" "$*"
  if [[ $status == fail ]]; then FAILED=1; fi
}

require_number() {
  [[ $2 =~ ^[0-9]+$ ]] || die_usage "invalid $1 '$2': expected a whole number"
}

free_mb() { df -Pm -- "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'; }

check_disk() {
  local root free
  root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null) || {
    result disk fail "cannot ask the Docker engine for its data directory (docker info failed); is dockerd running and is $(id -un) in the docker group?"
    return
  }
  free=$(free_mb "$root")
  if [[ -z $free ]]; then
    result disk fail "cannot read free space of ${root}"
  elif ((free < MIN_FREE_MB)); then
    result disk fail "${free} MiB free on ${root}, below the minimum of ${MIN_FREE_MB} MiB; prune unused images (docker image prune) or raise the disk"
  elif ((free < IMAGE_SIZE_MB)); then
    result disk fail "${free} MiB free on ${root}, less than the ${IMAGE_SIZE_MB} MiB image to pull"
  else
    result disk pass "${free} MiB free on ${root} (minimum ${MIN_FREE_MB} MiB, image ${IMAGE_SIZE_MB} MiB)"
  fi
}

registry_status() {
  local scheme code
  for scheme in https http; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "${scheme}://${REGISTRY}/v2/" 2>/dev/null) || continue
    # 401 means the registry responds and requires a login, which the deploy performs.
    if [[ $code == 200 || $code == 401 ]]; then
      echo "${scheme} ${code}"
      return 0
    fi
  done
  return 1
}

port_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

check_network() {
  result network pass "ssh: commands run on $(hostname) as $(id -un)"
  if [[ -z $REGISTRY ]]; then
    result network skip "registry: no --registry given"
  elif answer=$(registry_status); then
    result network pass "registry: ${REGISTRY} answers (${answer})"
  else
    result network fail "registry: ${REGISTRY} does not answer on /v2/ from this server; check DNS, firewall and that the registry runs"
  fi
  local holders holder env_label mismatch=""
  holders=$(docker ps --filter "publish=${PORT}" --format '{{.Names}} {{.Label "agent-dk.env"}}' 2>/dev/null || true)
  while read -r holder env_label; do
    [[ -n $holder ]] || continue
    if [[ $env_label != "$ENV_NAME" ]]; then mismatch="$holder"; fi
  done <<<"$holders"
  if [[ -n $mismatch ]]; then
    result network fail "port: ${PORT} is held by container ${mismatch}, which is not part of ${ENV_NAME}; stop it or choose another port"
  elif [[ -n $holders ]]; then
    result network pass "port: ${PORT} is held by ${ENV_NAME}'s own $(echo "$holders" | awk '{print $1}' | paste -sd, -)"
  elif port_listening "$PORT"; then
    result network fail "port: ${PORT} is held by a process outside Docker; find it with: ss -ltnp 'sport = :${PORT}'"
  else
    result network pass "port: ${PORT} is free"
  fi
}

check_gpu() {
  if [[ $GPUS == none ]]; then
    result gpu skip "${ENV_NAME} requests no GPUs (gpus = none)"
    return
  fi
  local runtimes
  runtimes=$(docker info --format '{{json .Runtimes}}' 2>/dev/null || true)
  if [[ $runtimes != *nvidia* ]]; then
    result gpu fail "${ENV_NAME} requests GPUs (gpus = ${GPUS}) but the Docker engine has no NVIDIA runtime; install the NVIDIA Container Toolkit, run 'nvidia-ctk runtime configure --runtime=docker' and restart dockerd"
    return
  fi
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    result gpu fail "nvidia-smi not found on the server; install the NVIDIA driver utilities"
    return
  fi
  local rows
  if ! rows=$(nvidia-smi --query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits 2>&1); then
    result gpu fail "nvidia-smi failed: $(echo "$rows" | tail -n 1)"
    return
  fi
  local summary min_free
  summary=$(awk -F', *' 'NF >= 4 { printf "%sGPU %s %s %s/%s MiB free", (n++ ? "; " : ""), $1, $2, $4, $3 }' <<<"$rows")
  min_free=$(awk -F', *' 'NF >= 4 { if (min == "" || $4 < min) min = $4 } END { print min }' <<<"$rows")
  if [[ -z $summary ]]; then
    result gpu fail "nvidia-smi lists no GPUs"
    return
  fi
  local hint=""
  if ((GPU_MEMORY_MB > 0)); then
    if ((min_free >= GPU_MEMORY_MB)); then
      hint="; blue-green fits: ${min_free} MiB free per GPU holds a second ${GPU_MEMORY_MB} MiB release"
    else
      hint="; use strategy = \"recreate\": ${min_free} MiB free per GPU cannot hold a second ${GPU_MEMORY_MB} MiB release"
    fi
  fi
  result gpu pass "${summary}${hint}"
}

file_age_hours() {
  local now modified
  now=$(date +%s)
  modified=$(stat -c %Y -- "$1")
  echo $(((now - modified) / 3600))
}

check_backup() {
  local state=${STATE_DIR:-$HOME/.agent-dk/$ENV_NAME}
  mkdir -p -- "$state" 2>/dev/null || true
  if ! { : >"$state/.precheck-write-test" && rm -f -- "$state/.precheck-write-test"; } 2>/dev/null; then
    result backup fail "state directory ${state} is not writable by $(id -un); the deploy's own snapshot goes there"
  else
    local free
    free=$(free_mb "$state")
    if ((free < MIN_STATE_FREE_MB)); then
      result backup fail "${free} MiB free for the state directory ${state}, below ${MIN_STATE_FREE_MB} MiB"
    else
      result backup pass "state directory ${state} is writable, ${free} MiB free"
    fi
  fi

  if [[ -z $BACKUP_PATH ]]; then
    if ((PRODUCTION)); then
      result backup warn "no backup location configured for ${ENV_NAME} (backup_path in deploy.toml); production needs a verified backup or --override=backup"
    else
      result backup skip "no backup location configured for ${ENV_NAME} (backup_path in deploy.toml)"
    fi
    return
  fi
  local latest=$BACKUP_PATH
  if [[ -d $BACKUP_PATH ]]; then
    latest=$(find "$BACKUP_PATH" -maxdepth 1 -type f ! -name '*.sha256' -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2-)
    if [[ -z $latest ]]; then
      result backup fail "no backup files in ${BACKUP_PATH}"
      return
    fi
  elif [[ ! -f $BACKUP_PATH ]]; then
    result backup fail "backup location ${BACKUP_PATH} not found on the server"
    return
  fi
  local age
  age=$(file_age_hours "$latest")
  if ((age >= BACKUP_MAX_AGE_HOURS)); then
    result backup fail "latest backup ${latest} is ${age} h old, older than the maximum of ${BACKUP_MAX_AGE_HOURS} h"
    return
  fi
  if [[ ! -f $latest.sha256 ]]; then
    result backup fail "latest backup ${latest} has no checksum file ${latest}.sha256"
    return
  fi
  local expected actual
  expected=$(awk '{ print $1; exit }' "$latest.sha256")
  actual=$(sha256sum -- "$latest" | awk '{ print $1 }')
  if [[ $expected != "$actual" ]]; then
    result backup fail "checksum of ${latest} does not match ${latest}.sha256 (expected ${expected:0:12}..., got ${actual:0:12}...)"
    return
  fi
  result backup pass "latest backup ${latest} is ${age} h old and its sha256 verifies"
}

parse_args() {
  CHECKS=()
  while (($#)); do
    case $1 in
      --env) ENV_NAME=${2:?--env needs a value}; shift ;;
      --port) PORT=${2:?--port needs a value}; shift ;;
      --registry) REGISTRY=${2:?--registry needs a value}; shift ;;
      --state-dir) STATE_DIR=${2:?--state-dir needs a value}; shift ;;
      --min-free-mb) MIN_FREE_MB=${2:?--min-free-mb needs a value}; shift ;;
      --image-size-mb) IMAGE_SIZE_MB=${2:?--image-size-mb needs a value}; shift ;;
      --min-state-free-mb) MIN_STATE_FREE_MB=${2:?--min-state-free-mb needs a value}; shift ;;
      --backup-path) BACKUP_PATH=${2:?--backup-path needs a value}; shift ;;
      --backup-max-age-hours) BACKUP_MAX_AGE_HOURS=${2:?--backup-max-age-hours needs a value}; shift ;;
      --production) PRODUCTION=1 ;;
      --gpus) GPUS=${2:?--gpus needs a value}; shift ;;
      --gpu-memory-mb) GPU_MEMORY_MB=${2:?--gpu-memory-mb needs a value}; shift ;;
      -h | --help) usage; exit 0 ;;
      all) CHECKS+=("${ALL_CHECKS[@]}") ;;
      backup | disk | network | gpu | freeze | security) CHECKS+=("$1") ;;
      *) die_usage "unknown check or option '$1'; checks: ${ALL_CHECKS[*]} or all (see --help)" ;;
    esac
    shift
  done
  ((${#CHECKS[@]})) || die_usage "no check given; checks: ${ALL_CHECKS[*]} or all"
  local name
  for name in PORT MIN_FREE_MB IMAGE_SIZE_MB MIN_STATE_FREE_MB BACKUP_MAX_AGE_HOURS GPU_MEMORY_MB; do
    local lower=${name,,}
    require_number "--${lower//_/-}" "${!name}"
  done
  ((PORT >= 1 && PORT <= 65535)) || die_usage "invalid --port '${PORT}': expected 1-65535"
  [[ $GPUS =~ ^(all|none|device=[0-9]+(,[0-9]+)*)$ ]] || die_usage "invalid --gpus '${GPUS}': expected all, none or device=0,1"
  [[ $ENV_NAME =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die_usage "invalid --env '${ENV_NAME}'"
}

main() {
  parse_args "$@"
  local check
  for check in "${CHECKS[@]}"; do
    case $check in
      backup) check_backup ;;
      disk) check_disk ;;
      network) check_network ;;
      gpu) check_gpu ;;
      freeze | security) result "$check" skip "checked where the pipeline runs: invoke prechecks --env=${ENV_NAME} --only=${check}" ;;
    esac
  done
  return "$FAILED"
}

main "$@"
