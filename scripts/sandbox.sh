#!/usr/bin/env bash
# Usage: scripts/sandbox.sh up|down|status
#
# A local stand-in for the GPU server, on loopback only: a Docker engine, a registry on
# 127.0.0.1:5000, a second one with htpasswd logins on 127.0.0.1:5001, and OpenSSH on
# 127.0.0.1:2222 with a non-root "deploy" user in the docker group. Keys, known_hosts, logs,
# the login registry's password and registry data live under .sandbox/; .env.sandbox points the
# pipeline at it. "up" is idempotent: it starts only what does not respond yet.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SANDBOX_DIR=${SANDBOX_DIR:-$ROOT/.sandbox}
ENV_FILE=${SANDBOX_ENV_FILE:-$ROOT/.env.sandbox}
REGISTRY_ADDR=127.0.0.1:5000
AUTH_REGISTRY_ADDR=127.0.0.1:5001
AUTH_REGISTRY_USER=agent-dk
SSH_ADDR=127.0.0.1
SSH_PORT=2222
DEPLOY_USER=deploy
UPSTREAM_BASE_IMAGE=python:3.11-slim
LOCAL_BASE_IMAGE=agent-dk-base:bookworm
UPSTREAM_PROXY_IMAGE=nginx:stable
LOCAL_PROXY_IMAGE=agent-dk-proxy:local
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
DOCKER_PIDFILE=/var/run/docker.pid
ENGINE_START_SECONDS=60

log() { printf 'sandbox: %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# command -> Debian package that provides it
declare -A PACKAGE_OF=(
  [dockerd]=docker.io
  [docker-registry]=docker-registry
  [sshd]=openssh-server
  [ssh]=openssh-client
  [ssh-keygen]=openssh-client
  [debootstrap]=debootstrap
  [curl]=curl
  [htpasswd]=apache2-utils
)

find_command() {
  command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; } || true
}

missing_packages() {
  local name packages=()
  for name in "${!PACKAGE_OF[@]}"; do
    [[ -n $(find_command "$name") ]] || packages+=("${PACKAGE_OF[$name]}")
  done
  if ! command -v docker >/dev/null 2>&1; then packages+=(docker.io); fi
  [[ ${#packages[@]} -eq 0 ]] || printf '%s\n' "${packages[@]}" | sort -u | tr '\n' ' '
}

install_missing() {
  local missing
  missing=$(missing_packages)
  [[ -n $missing ]] || return 0
  if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing packages: ${missing}. Install them (Debian/Ubuntu: sudo apt-get install ${missing}) and run this again."
  fi
  log "installing ${missing}"
  # shellcheck disable=SC2086 # the package list is meant to split into words
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >"$SANDBOX_DIR/apt.log" 2>&1 || {
    apt-get update -q >>"$SANDBOX_DIR/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >>"$SANDBOX_DIR/apt.log" 2>&1
  } || die "apt-get install ${missing} failed; see ${SANDBOX_DIR}/apt.log"
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
pid_from() { if [[ -f $1 ]]; then cat "$1"; fi; }

engine_answers() { docker info >/dev/null 2>&1; }

start_engine() {
  getent group docker >/dev/null || groupadd --system docker
  if engine_answers; then
    log "docker: engine already answers"
  else
    local pid waited=0
    pid=$(pid_from "$DOCKER_PIDFILE")
    if pid_alive "$pid"; then
      die "dockerd (pid ${pid}) is running but does not respond; look at ${SANDBOX_DIR}/dockerd.log or stop it, then run this again"
    fi
    # A killed dockerd leaves its pid file behind, and a new one refuses to start while it exists.
    rm -f "$DOCKER_PIDFILE"
    log "docker: starting dockerd (log: ${SANDBOX_DIR}/dockerd.log)"
    setsid "$(find_command dockerd)" >"$SANDBOX_DIR/dockerd.log" 2>&1 </dev/null &
    echo "$!" >"$SANDBOX_DIR/dockerd.pid"
    until engine_answers; do
      ((waited++ < ENGINE_START_SECONDS)) || die "dockerd did not respond within ${ENGINE_START_SECONDS} s; see ${SANDBOX_DIR}/dockerd.log"
      sleep 1
    done
  fi
  # The deploy user reaches the engine through the docker group.
  if [[ -S /var/run/docker.sock && $(stat -c %G /var/run/docker.sock) != docker ]]; then
    chgrp docker /var/run/docker.sock
    chmod g+rw /var/run/docker.sock
  fi
}

registry_answers() { curl -fsS --max-time 2 "http://$1/v2/" >/dev/null 2>&1; }

# The login registry returns 401 to a request without credentials, which shows it is up.
auth_registry_answers() {
  [[ $(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://$1/v2/" 2>/dev/null) == 401 ]]
}

# Usage: start_registry NAME ADDRESS ANSWERS_FUNCTION [AUTH_CONFIG]
start_registry() {
  local name=$1 addr=$2 answers=$3 auth=${4:-} dir=$SANDBOX_DIR/$1
  if "$answers" "$addr"; then
    if ! pid_alive "$(pid_from "$SANDBOX_DIR/${name}.pid")"; then
      log "${name}: ${addr} already answers, served by a registry this checkout did not start"
    else
      log "${name}: already answers on ${addr}"
    fi
    return
  fi
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${dir}/data
  delete:
    enabled: true
http:
  addr: ${addr}
${auth}
EOF
  log "${name}: starting on ${addr}"
  setsid "$(find_command docker-registry)" serve "$dir/config.yml" >"$SANDBOX_DIR/${name}.log" 2>&1 </dev/null &
  echo "$!" >"$SANDBOX_DIR/${name}.pid"
  local waited=0
  until "$answers" "$addr"; do
    ((waited++ < 20)) || die "${name} did not respond on ${addr} within 10 s; see ${SANDBOX_DIR}/${name}.log"
    sleep 0.5
  done
}

# A registry that needs `docker login`, so the pipeline's login path runs against a real one.
# The password is made once and kept in a 0600 file; htpasswd reads it from stdin.
start_auth_registry() {
  local dir=$SANDBOX_DIR/registry-auth
  mkdir -p "$dir"
  chmod 0700 "$dir"
  if [[ ! -s $dir/password ]]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/password")
  fi
  htpasswd -B -i -n "$AUTH_REGISTRY_USER" <"$dir/password" >"$dir/htpasswd" 2>/dev/null
  start_registry registry-auth "$AUTH_REGISTRY_ADDR" auth_registry_answers "auth:
  htpasswd:
    realm: agent-dk-sandbox
    path: ${dir}/htpasswd"
}

setup_deploy_user() {
  if ! id "$DEPLOY_USER" >/dev/null 2>&1; then
    log "ssh: creating user ${DEPLOY_USER}"
    useradd --create-home --shell /bin/bash "$DEPLOY_USER"
  fi
  usermod --append --groups docker "$DEPLOY_USER"
  # useradd leaves the account locked, and sshd rejects locked accounts even for key logins.
  usermod -p '*' "$DEPLOY_USER"

  [[ -f $SANDBOX_DIR/id_ed25519 ]] ||
    ssh-keygen -q -t ed25519 -N '' -C agent-dk-sandbox -f "$SANDBOX_DIR/id_ed25519"
  [[ -f $SANDBOX_DIR/ssh_host_ed25519_key ]] ||
    ssh-keygen -q -t ed25519 -N '' -C agent-dk-sandbox-host -f "$SANDBOX_DIR/ssh_host_ed25519_key"

  local home
  home=$(getent passwd "$DEPLOY_USER" | cut -d: -f6)
  install -d -m 700 -o "$DEPLOY_USER" -g "$DEPLOY_USER" "$home/.ssh"
  install -m 600 -o "$DEPLOY_USER" -g "$DEPLOY_USER" "$SANDBOX_DIR/id_ed25519.pub" "$home/.ssh/authorized_keys"
  # The host key is pinned from its file, never scanned over the network.
  printf '[%s]:%s %s\n' "$SSH_ADDR" "$SSH_PORT" "$(cut -d' ' -f1,2 "$SANDBOX_DIR/ssh_host_ed25519_key.pub")" \
    >"$SANDBOX_DIR/known_hosts"
}

ssh_answers() {
  ssh -i "$SANDBOX_DIR/id_ed25519" -p "$SSH_PORT" -o BatchMode=yes -o ConnectTimeout=3 \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$SANDBOX_DIR/known_hosts" \
    -o IdentitiesOnly=yes "${DEPLOY_USER}@${SSH_ADDR}" docker info >/dev/null 2>&1
}

start_sshd() {
  if pid_alive "$(pid_from "$SANDBOX_DIR/sshd.pid")" && ssh_answers; then
    log "ssh: already answers on ${SSH_ADDR}:${SSH_PORT}"
    return
  fi
  cat >"$SANDBOX_DIR/sshd_config" <<EOF
Port ${SSH_PORT}
ListenAddress ${SSH_ADDR}
HostKey ${SANDBOX_DIR}/ssh_host_ed25519_key
PidFile ${SANDBOX_DIR}/sshd.pid
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers ${DEPLOY_USER}
UsePAM no
X11Forwarding no
AllowTcpForwarding yes
MaxStartups 100:30:200
MaxSessions 64
EOF
  mkdir -p /run/sshd
  local sshd
  sshd=$(find_command sshd)
  "$sshd" -t -f "$SANDBOX_DIR/sshd_config" || die "sshd rejected ${SANDBOX_DIR}/sshd_config"
  local pid
  pid=$(pid_from "$SANDBOX_DIR/sshd.pid")
  if pid_alive "$pid"; then kill "$pid"; sleep 0.5; fi
  if (exec 3<>"/dev/tcp/${SSH_ADDR}/${SSH_PORT}") 2>/dev/null; then
    die "${SSH_ADDR}:${SSH_PORT} is in use by another process, perhaps the sandbox of another checkout; stop it there (scripts/sandbox.sh down) and run this again"
  fi
  log "ssh: starting sshd on ${SSH_ADDR}:${SSH_PORT} (log: ${SANDBOX_DIR}/sshd.log)"
  "$sshd" -f "$SANDBOX_DIR/sshd_config" -E "$SANDBOX_DIR/sshd.log"
  local waited=0
  until ssh_answers; do
    ((waited++ < 20)) || die "cannot log in as ${DEPLOY_USER} on ${SSH_ADDR}:${SSH_PORT} or run docker there; see ${SANDBOX_DIR}/sshd.log"
    sleep 0.5
  done
}

ROOTFS=""
cleanup_rootfs() { if [[ -n $ROOTFS ]]; then rm -rf "$ROOTFS"; fi; }

# Sets BASE_IMAGE to the image the service builds from.
choose_base_image() {
  if image_available "$UPSTREAM_BASE_IMAGE"; then
    BASE_IMAGE=$UPSTREAM_BASE_IMAGE
    log "base image: ${BASE_IMAGE}"
    return
  fi
  BASE_IMAGE=$LOCAL_BASE_IMAGE
  if docker image inspect "$LOCAL_BASE_IMAGE" >/dev/null 2>&1; then
    log "base image: ${UPSTREAM_BASE_IMAGE} cannot be pulled; using the local ${LOCAL_BASE_IMAGE}"
    return
  fi
  log "base image: ${UPSTREAM_BASE_IMAGE} cannot be pulled; building ${LOCAL_BASE_IMAGE} from Debian packages with debootstrap (about a minute)"
  ROOTFS=$(mktemp -d "$SANDBOX_DIR/rootfs.XXXXXX")
  trap cleanup_rootfs EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$ROOTFS" >"$SANDBOX_DIR/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see ${SANDBOX_DIR}/debootstrap.log"
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*
  tar -C "$ROOTFS" -c . | docker import --change 'CMD ["/bin/bash"]' - "$LOCAL_BASE_IMAGE" >/dev/null
  cleanup_rootfs
  ROOTFS=""
}

image_available() {
  docker image inspect "$1" >/dev/null 2>&1 || timeout 60 docker pull -q "$1" >/dev/null 2>&1
}

# Sets PROXY_IMAGE to nginx:stable, or to an equivalent built from Debian's nginx-light.
choose_proxy_image() {
  if image_available "$UPSTREAM_PROXY_IMAGE"; then
    PROXY_IMAGE=$UPSTREAM_PROXY_IMAGE
    log "proxy image: ${PROXY_IMAGE}"
    return
  fi
  PROXY_IMAGE=$LOCAL_PROXY_IMAGE
  if docker image inspect "$LOCAL_PROXY_IMAGE" >/dev/null 2>&1; then
    log "proxy image: ${UPSTREAM_PROXY_IMAGE} cannot be pulled; using the local ${LOCAL_PROXY_IMAGE}"
    return
  fi
  log "proxy image: ${UPSTREAM_PROXY_IMAGE} cannot be pulled; building ${LOCAL_PROXY_IMAGE} with Debian's nginx-light"
  docker build --quiet --tag "$LOCAL_PROXY_IMAGE" - >"$SANDBOX_DIR/proxy-build.log" 2>&1 <<EOF ||
FROM ${BASE_IMAGE}
RUN apt-get update -q && apt-get install -y -q --no-install-recommends nginx-light curl \\
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \\
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
CMD ["nginx", "-g", "daemon off;"]
EOF
    die "building ${LOCAL_PROXY_IMAGE} failed; see ${SANDBOX_DIR}/proxy-build.log"
}

write_env_file() {
  local ca_line="# BUILD_CA_CERT="
  [[ -f $HOST_CA_BUNDLE ]] && ca_line="BUILD_CA_CERT=${HOST_CA_BUNDLE}"
  cat >"$ENV_FILE" <<EOF
# Written by scripts/sandbox.sh: points the pipeline at the local sandbox server.
SSH_HOST=${SSH_ADDR}
SSH_PORT=${SSH_PORT}
SSH_USER=${DEPLOY_USER}
SSH_KEY_FILE=${SANDBOX_DIR}/id_ed25519
SSH_KNOWN_HOSTS_FILE=${SANDBOX_DIR}/known_hosts
REGISTRY=${REGISTRY_ADDR}
PUBLISH_ADDRESS=127.0.0.1
# The sandbox has no GPU and no NVIDIA runtime.
GPUS_OVERRIDE=none
BASE_IMAGE=${BASE_IMAGE}
PROXY_IMAGE=${PROXY_IMAGE}
# This machine's CA bundle, so pip inside docker build trusts the same authorities it does.
${ca_line}
EOF
  chmod 600 "$ENV_FILE"
  log "settings written to ${ENV_FILE}"
}

cmd_up() {
  [[ $EUID -eq 0 ]] || die "sandbox up must run as root: it starts dockerd and sshd and creates the ${DEPLOY_USER} user. Run: sudo $0 up"
  mkdir -p "$SANDBOX_DIR"
  chmod 700 "$SANDBOX_DIR"
  install_missing
  start_engine
  start_registry registry "$REGISTRY_ADDR" registry_answers
  start_auth_registry
  setup_deploy_user
  start_sshd
  choose_base_image
  choose_proxy_image
  write_env_file
  log "up: ssh ${DEPLOY_USER}@${SSH_ADDR}:${SSH_PORT}, registry ${REGISTRY_ADDR}, login registry ${AUTH_REGISTRY_ADDR}"
}

stop_pidfile() {
  local name=$1 file=$2 pid
  pid=$(pid_from "$file")
  if pid_alive "$pid"; then
    log "${name}: stopping (pid ${pid})"
    kill "$pid"
    local waited=0
    while pid_alive "$pid" && ((waited++ < 30)); do sleep 0.5; done
  else
    log "${name}: not running"
  fi
  rm -f "$file"
}

cmd_down() {
  stop_pidfile ssh "$SANDBOX_DIR/sshd.pid"
  stop_pidfile registry "$SANDBOX_DIR/registry.pid"
  stop_pidfile registry-auth "$SANDBOX_DIR/registry-auth.pid"
  # Only an engine this script started is stopped; one that was already running stays.
  stop_pidfile docker "$SANDBOX_DIR/dockerd.pid"
}

cmd_status() {
  local failed=0
  if engine_answers; then
    log "docker: answers (engine $(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  else
    log "docker: not answering"; failed=1
  fi
  if registry_answers "$REGISTRY_ADDR"; then log "registry: answers on ${REGISTRY_ADDR}"; else log "registry: not answering on ${REGISTRY_ADDR}"; failed=1; fi
  if auth_registry_answers "$AUTH_REGISTRY_ADDR"; then
    log "registry-auth: answers on ${AUTH_REGISTRY_ADDR} (user ${AUTH_REGISTRY_USER}, password in ${SANDBOX_DIR}/registry-auth/password)"
  else
    log "registry-auth: not answering on ${AUTH_REGISTRY_ADDR}"; failed=1
  fi
  if [[ -f $SANDBOX_DIR/known_hosts ]] && ssh_answers; then
    log "ssh: ${DEPLOY_USER}@${SSH_ADDR}:${SSH_PORT} logs in and reaches docker"
  else
    log "ssh: not answering on ${SSH_ADDR}:${SSH_PORT}"; failed=1
  fi
  if [[ -f $ENV_FILE ]]; then log "settings: ${ENV_FILE}"; else log "settings: ${ENV_FILE} missing"; failed=1; fi
  return "$failed"
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      die "unknown command '${1:-}'; valid commands: up, down, status"
      ;;
  esac
}

main "$@"
