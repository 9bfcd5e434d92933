#!/usr/bin/env bash
# Make sure what the tests talk to is here and running: PostgreSQL and Redis on 127.0.0.1, and
# Debian's chromium for the browser tests. Installs (apt) what is missing, starts what is stopped.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# PostgreSQL
if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "ensure-services: installing PostgreSQL"
    apt_install postgresql
  fi
  echo "ensure-services: starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 30); do port_open 5432 && break; sleep 1; done
fi
port_open 5432 || { echo "ensure-services: PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }

# Redis
if ! port_open 6379; then
  command -v redis-server >/dev/null || { echo "ensure-services: installing Redis"; apt_install redis-server; }
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 30); do port_open 6379 && break; sleep 0.5; done
fi
port_open 6379 || { echo "ensure-services: Redis did not come up on 127.0.0.1:6379" >&2; exit 1; }
# Fault tests start a private redis-server on another port: it must be installed.
command -v redis-server >/dev/null || apt_install redis-server

# Chromium for Playwright (Debian's build; Playwright downloads nothing here).
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-services: installing Debian chromium"
  apt_install chromium
fi
echo "ensure-services: PostgreSQL, Redis and chromium are ready"
