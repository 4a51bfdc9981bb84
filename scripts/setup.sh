#!/usr/bin/env bash
# What `npm test` needs besides node_modules, on a Debian or Ubuntu machine: Redis on
# 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (user root, trust auth), each started if it is
# down and installed if it is missing; Debian's Chromium for the browser test; docker-compose to
# validate the compose files. Safe to run again: whatever is already there is left alone.
# Used by the README's set-up line and by .ci/run.
set -uo pipefail

log() { printf '[setup] %s\n' "$*"; }

# apt-get and service start-up need root; use sudo when we are not.
SUDO=''
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO='sudo'; else log "not root and no sudo: installs will fail"; fi
fi
APT_UPDATED=''
apt_install() {
  if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq && APT_UPDATED=1; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server"
    apt_install redis-server || return 1
  fi
  log "starting redis-server"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/setup.log
  for _ in $(seq 1 50); do redis-cli ping >/dev/null 2>&1 && return 0; sleep 0.2; done
  log "redis did not start"; return 1
}

ensure_postgres() {
  if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      log "installing postgresql"
      apt_install postgresql || return 1
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "starting postgresql $version"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && break; sleep 0.2; done
  fi
  # Trust auth for root over TCP, as the tests and the README's commands expect.
  if ! psql -h 127.0.0.1 -U root -d postgres -c 'select 1' >/dev/null 2>&1; then
    local version hba
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    $SUDO su postgres -c "psql -c \"CREATE ROLE root SUPERUSER LOGIN\"" >/dev/null 2>&1 || true
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! $SUDO grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
    fi
  fi
  psql -h 127.0.0.1 -U root -d postgres -c 'select 1' >/dev/null 2>&1 || { log "postgres not reachable as root"; return 1; }
}

# Debian's Chromium, driven by playwright-core in web/e2e.int.test.ts (Playwright's own browser
# downloads are not used). That test fails, rather than skips, when Chromium is missing.
ensure_chromium() {
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] && return 0
  log "installing chromium (for the web client's browser test)"
  apt_install chromium || log "chromium could not be installed"
}

# Only to validate the compose files (server/test/compose.test.ts); no container is started.
ensure_compose() {
  command -v docker-compose >/dev/null 2>&1 && return 0
  docker compose version >/dev/null 2>&1 && return 0
  log "installing docker-compose (used only to validate the compose files)"
  apt_install docker-compose || log "docker-compose unavailable"
}

ensure_redis || exit 1
ensure_postgres || exit 1
ensure_chromium
ensure_compose
log "ready: redis 127.0.0.1:6379, postgres 127.0.0.1:5432 (root)"
