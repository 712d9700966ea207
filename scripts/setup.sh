#!/usr/bin/env bash
# Installs and starts what warren's tests and demo need on a fresh Debian machine, then builds.
# Idempotent: a machine that already has everything only pays for the checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { echo "setup: run as root (the lab needs network namespaces; apt needs root)" >&2; exit 2; }

# Debian packages: sshd and RabbitMQ for the lab hosts, Redis for the queue, namespace tools.
need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v rabbitmqctl >/dev/null 2>&1 || need+=(rabbitmq-server)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# Sentinel for the failover tests (test/integration/redis-sentinel*.test.ts start their own group).
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v getent >/dev/null 2>&1 || need+=(libc-bin)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)   # the lab's Debian release trees
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -q >/dev/null
  # Services must not start on the machine itself: the lab starts RabbitMQ inside its hosts.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q --no-install-recommends "${need[@]}" >/dev/null
  # Under systemd the package starts a Sentinel on 26379 watching 6379; the tests need none of it.
  if [[ " ${need[*]} " == *" redis-sentinel "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now redis-sentinel >/dev/null 2>&1 || true
  fi
fi

# Redis: start one if nothing answers on REDIS_URL (default redis://127.0.0.1:6379).
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
  log "starting redis-server on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir /var/lib/redis \
    --appendonly yes --maxmemory-policy noeviction --logfile /var/log/redis/warren.log
  for _ in $(seq 1 50); do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -u "$REDIS_URL" ping >/dev/null || { echo "setup: redis did not start" >&2; exit 1; }
fi

# Node dependencies, exactly as locked; then the build the CLI runs from.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "build"
npm run -s build
