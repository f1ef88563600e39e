#!/usr/bin/env bash
# Usage: smoke_test.sh --port N --version TAG --container NAME --image REF [OPTIONS]
#
# Post-deployment checks, run on the server against the environment's port (its firewall may
# allow only SSH). `invoke smoke` sends this script over SSH on stdin. Each check prints one line:
#   RESULT <check> <pass|fail|warn|skip> <message>
# and the script exits 1 when any check fails, 2 on invalid arguments.
# Checks: health, version, api, container, gpu, latency, tls.
#
# Options (defaults in brackets):
#   --port N               the environment's external port (required)
#   --version TAG          the version /version must report (required)
#   --container NAME       the release container that must serve (required)
#   --image REF            the repository@sha256 image it must run (required)
#   --gpus all|none|...    GPUs the environment requests; none skips the gpu check [none]
#   --timeout S            seconds each request may take [5]
#   --latency-requests N   requests for the latency check [20]
#   --p50-ms N             budget for the median latency [200]
#   --p95-ms N             budget for the 95th percentile latency [500]
#   --tls-host NAME        host name the certificate must match; enables HTTPS and the tls check
#   --tls-ca FILE          CA certificate the server's certificate must verify against
#   --tls-min-days N       minimum days before the certificate expires [14]
set -Eeuo pipefail

PORT=""
VERSION=""
CONTAINER=""
IMAGE=""
GPUS=none
TIMEOUT=5
LATENCY_REQUESTS=20
P50_MS=200
P95_MS=500
TLS_HOST=""
TLS_CA=""
TLS_MIN_DAYS=14
FAILED=0

# Each check script is sent alone over SSH, so the small helpers below are not shared with prechecks.sh.
usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" 2>/dev/null | sed 's/^# \{0,1\}//' || true; }
die_usage() { printf 'ERROR: %s\n' "$*" >&2; exit 2; }

result() {
  local check=$1 status=$2
  shift 2
  printf 'RESULT %s %s %s\n' "$check" "$status" "$*"
  if [[ $status == fail ]]; then FAILED=1; fi
}

base_url() {
  if [[ -n $TLS_HOST ]]; then
    printf 'https://%s:%s' "$TLS_HOST" "$PORT"
  else
    printf 'http://127.0.0.1:%s' "$PORT"
  fi
}

# curl with the options every request shares; with TLS the host name resolves to loopback.
http() {
  local options=(--silent --show-error --max-time "$TIMEOUT")
  if [[ -n $TLS_HOST ]]; then
    options+=(--resolve "${TLS_HOST}:${PORT}:127.0.0.1")
    if [[ -n $TLS_CA ]]; then options+=(--cacert "$TLS_CA"); fi
  fi
  curl "${options[@]}" "$@"
}

check_health() {
  local code
  code=$(http -o /dev/null -w '%{http_code}' "$(base_url)/health" 2>&1) || true
  if [[ $code == 200 ]]; then
    result health pass "/health answered 200"
  else
    result health fail "/health answered ${code:-nothing} within ${TIMEOUT} s"
  fi
}

json_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" 2>/dev/null
}

check_version() {
  local body seen
  body=$(http "$(base_url)/version" 2>&1) || { result version fail "/version did not answer: ${body}"; return; }
  seen=$(json_field version <<<"$body") || seen=""
  if [[ $seen == "$VERSION" ]]; then
    result version pass "/version reports ${VERSION}"
  else
    result version fail "/version reports '${seen}', expected '${VERSION}'"
  fi
}

check_api() {
  local url body code similarity
  url="$(base_url)/v1/similarity"
  body=$(http -H 'Content-Type: application/json' -d '{"left": "GPU server", "right": "GPU server"}' "$url" 2>&1) || {
    result api fail "POST /v1/similarity failed: ${body}"
    return
  }
  similarity=$(json_field similarity <<<"$body") || similarity=""
  if [[ $similarity != 1.0 ]]; then
    result api fail "POST /v1/similarity of two equal texts returned '${body}', expected similarity 1.0"
    return
  fi
  code=$(http -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"left": ""}' "$url" 2>&1) || true
  if [[ $code != 422 ]]; then
    result api fail "POST /v1/similarity with invalid input answered ${code}, expected 422"
    return
  fi
  result api pass "a valid request returned similarity 1.0; an invalid one was rejected with 422"
}

container_state() {
  docker container inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}} {{.Config.Image}}' -- "$CONTAINER" 2>/dev/null
}

RESTARTS_BEFORE=""

record_restarts() {
  local state
  state=$(container_state) || return 0
  RESTARTS_BEFORE=$(awk '{print $3}' <<<"$state")
}

check_container() {
  local state status health restarts image
  if ! state=$(container_state); then
    result container fail "container ${CONTAINER} not found"
    return
  fi
  read -r status health restarts image <<<"$state"
  if [[ $status != running ]]; then
    result container fail "${CONTAINER} is ${status}, not running"
  elif [[ $health != healthy ]]; then
    result container fail "${CONTAINER} health is ${health}, not healthy"
  elif [[ $image != "$IMAGE" ]]; then
    result container fail "${CONTAINER} runs ${image}, expected ${IMAGE}"
  elif [[ -n $RESTARTS_BEFORE && $restarts != "$RESTARTS_BEFORE" ]]; then
    result container fail "${CONTAINER} restarted during the checks (restart count ${RESTARTS_BEFORE} -> ${restarts})"
  else
    result container pass "${CONTAINER} running, healthy, ${image}, restart count ${restarts} steady"
  fi
}

check_gpu() {
  if [[ $GPUS == none ]]; then
    result gpu skip "the environment requests no GPUs (gpus = none)"
    return
  fi
  local output
  if output=$(docker exec "$CONTAINER" nvidia-smi --query-gpu=index,name --format=csv,noheader 2>&1); then
    result gpu pass "inside ${CONTAINER}: $(paste -sd';' <<<"$output")"
  else
    result gpu fail "nvidia-smi inside ${CONTAINER} failed: $(tail -n 1 <<<"$output")"
  fi
}

check_latency() {
  local times sorted count p50 p95 index
  times=$(for ((i = 0; i < LATENCY_REQUESTS; i++)); do
    http -o /dev/null -w '%{time_total}\n' "$(base_url)/health" || echo 999
  done)
  sorted=$(sort -n <<<"$times")
  count=$(wc -l <<<"$sorted")
  index=$(((count + 1) / 2))
  p50=$(sed -n "${index}p" <<<"$sorted" | awk '{printf "%d", $1 * 1000}')
  index=$(((count * 95 + 99) / 100))
  p95=$(sed -n "${index}p" <<<"$sorted" | awk '{printf "%d", $1 * 1000}')
  if ((p50 > P50_MS || p95 > P95_MS)); then
    result latency fail "p50 ${p50} ms, p95 ${p95} ms over ${count} requests; budget p50 ${P50_MS} ms, p95 ${P95_MS} ms"
  else
    result latency pass "p50 ${p50} ms, p95 ${p95} ms over ${count} requests (budget ${P50_MS}/${P95_MS} ms)"
  fi
}

check_tls() {
  if [[ -z $TLS_HOST ]]; then
    result tls skip "the environment serves plain HTTP (no tls_cert in deploy.toml)"
    return
  fi
  local ca_option=() pem end_date end_epoch days
  if [[ -n $TLS_CA ]]; then ca_option=(-CAfile "$TLS_CA"); fi
  pem=$(openssl s_client -connect "127.0.0.1:${PORT}" -servername "$TLS_HOST" -verify_hostname "$TLS_HOST" \
    -verify_return_error "${ca_option[@]}" </dev/null 2>/dev/null) || {
    result tls fail "the certificate on port ${PORT} does not verify for ${TLS_HOST}${TLS_CA:+ against ${TLS_CA}}"
    return
  }
  end_date=$(openssl x509 -noout -enddate <<<"$pem" | cut -d= -f2)
  end_epoch=$(date -d "$end_date" +%s)
  days=$(((end_epoch - $(date +%s)) / 86400))
  if ((days < TLS_MIN_DAYS)); then
    result tls fail "the certificate for ${TLS_HOST} expires in ${days} days (${end_date}), fewer than ${TLS_MIN_DAYS}"
  else
    result tls pass "the certificate verifies for ${TLS_HOST} and expires in ${days} days"
  fi
}

flag_name() {
  local lower=${1,,}
  printf -- '--%s' "${lower//_/-}"
}

parse_args() {
  while (($#)); do
    case $1 in
      --port) PORT=${2:?--port needs a value}; shift ;;
      --version) VERSION=${2:?--version needs a value}; shift ;;
      --container) CONTAINER=${2:?--container needs a value}; shift ;;
      --image) IMAGE=${2:?--image needs a value}; shift ;;
      --gpus) GPUS=${2:?--gpus needs a value}; shift ;;
      --timeout) TIMEOUT=${2:?--timeout needs a value}; shift ;;
      --latency-requests) LATENCY_REQUESTS=${2:?--latency-requests needs a value}; shift ;;
      --p50-ms) P50_MS=${2:?--p50-ms needs a value}; shift ;;
      --p95-ms) P95_MS=${2:?--p95-ms needs a value}; shift ;;
      --tls-host) TLS_HOST=${2:?--tls-host needs a value}; shift ;;
      --tls-ca) TLS_CA=${2:?--tls-ca needs a value}; shift ;;
      --tls-min-days) TLS_MIN_DAYS=${2:?--tls-min-days needs a value}; shift ;;
      -h | --help) usage; exit 0 ;;
      *) die_usage "unknown option '$1' (see --help)" ;;
    esac
    shift
  done
  local name
  for name in PORT VERSION CONTAINER IMAGE; do
    [[ -n ${!name} ]] || die_usage "missing $(flag_name "$name")"
  done
  for name in PORT TIMEOUT LATENCY_REQUESTS P50_MS P95_MS TLS_MIN_DAYS; do
    [[ ${!name} =~ ^[0-9]+$ ]] || die_usage "invalid $(flag_name "$name") '${!name}': expected a whole number"
  done
  ((LATENCY_REQUESTS >= 1)) || die_usage "invalid --latency-requests '${LATENCY_REQUESTS}': expected 1 or more"
}

main() {
  parse_args "$@"
  record_restarts
  check_health
  check_version
  check_api
  check_gpu
  check_latency
  check_tls
  # Last, so a restart during the other checks shows up in the restart count.
  check_container
  return "$FAILED"
}

main "$@"
