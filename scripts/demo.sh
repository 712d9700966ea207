#!/usr/bin/env bash
# The demo: a 3-host lab and a worker; then, through Slack's path (the real bot against the project's
# Slack emulator, driven by signed slash commands), `/rabbit cluster create lab` and `/rabbit status
# lab`, with the thread printed as a person reads it; then a node reset asked by one user and approved
# by another, the audit log, and a create that rejoins the node; last, `warren status lab` from the terminal.
# Tears the lab down at the end; KEEP_LAB=1 leaves it up to explore (then: bash tools/lab/lab.sh down).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

LAB_DIR=${LAB_DIR:-/tmp/warren-lab}
export WARREN_CONFIG=$LAB_DIR/warren.yaml
export WARREN_QUEUE_PREFIX=${WARREN_QUEUE_PREFIX:-warren-demo}
warren() { node dist/src/cli/bin.js "$@"; }

worker_pid=
cleanup() {
  [ -n "$worker_pid" ] && kill -TERM "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
  if [ "${KEEP_LAB:-0}" = 1 ]; then
    echo "lab left up (config: $WARREN_CONFIG); tear it down with: bash tools/lab/lab.sh down"
  else
    bash tools/lab/lab.sh down >/dev/null
  fi
}
trap cleanup EXIT

echo "== lab: 3 Debian hosts (network namespaces), rabbitmq-server installed and running, each with its own cookie"
bash tools/lab/lab.sh up 3

echo "== worker (logs: $LAB_DIR/worker.log)"
# node itself in the background (not the shell function), so the EXIT trap's SIGTERM reaches it.
node dist/src/cli/bin.js worker >"$LAB_DIR/worker.log" 2>&1 &
worker_pid=$!

echo "== warren cluster create lab --dry-run"
warren cluster create lab --dry-run >"$LAB_DIR/plan.txt"
head -12 "$LAB_DIR/plan.txt"; echo "   … (whole plan: $LAB_DIR/plan.txt)"

echo "== Slack: /rabbit cluster create lab, then /rabbit status lab (bot + emulator + signed driver)"
node --import tsx scripts/demo-slack.ts lab

echo "== the same cluster from the terminal: warren status lab"
warren status lab
