#!/usr/bin/env bash
# Times a 3-node cluster create on the lab, side by side in one run, each contender on a fresh lab
# whose nodes run RabbitMQ with their own cookies (as Debian leaves them):
#   seed-serial (runbook, serial), ansible (playbook), hand-parallel (the floor), warren (CLI + worker).
# Usage: bench/create-cluster/run.sh [ROUNDS]   (default 3). Results: bench/create-cluster/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
HERE=bench/create-cluster
LAB=test/lab/lab.sh
export LAB_DIR=${LAB_DIR:-/tmp/warren-lab} LAB_START_RABBIT=1
out=$(mktemp -d)
trap 'bash $LAB down >/dev/null 2>&1 || true; [ -n "${worker:-}" ] && kill -TERM $worker 2>/dev/null; true' EXIT

command -v ansible-playbook >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ansible-core >/dev/null
command -v bc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q bc >/dev/null
bash scripts/setup.sh

now() { date +%s.%N; }
check3() {  # the contender must leave 3 running nodes, seen from lab3
  bash $LAB exec 3 bash -c 'rabbitmqctl cluster_status --formatter json </dev/null' |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).running_nodes.sort().join(",");process.exit(r==="rabbit@lab1,rabbit@lab2,rabbit@lab3"?0:1)})'
}

run_one() {  # $1 = contender; prints seconds
  local name=$1 t0 t1
  bash $LAB down >/dev/null 2>&1 || true
  bash $LAB up 3 >/dev/null
  case $name in
    warren)
      export WARREN_CONFIG=$LAB_DIR/warren.yaml WARREN_QUEUE_PREFIX=bench-$RANDOM
      node dist/src/cli/bin.js worker >"$out/worker-$name.log" 2>&1 & worker=$!
      sleep 1   # the worker is up before the operator types (production keeps one running)
      t0=$(now); node dist/src/cli/bin.js cluster create lab >"$out/warren.out" 2>&1; t1=$(now)
      kill -TERM $worker; wait $worker 2>/dev/null || true; worker=
      grep -E '^(✓|–) rabbit:' "$out/warren.out" | sed 's/^/    /' >&2 ;;
    ansible) t0=$(now); bash $HERE/anchors/ansible.sh >"$out/$name.out" 2>&1; t1=$(now) ;;
    *) t0=$(now); bash $HERE/anchors/$name.sh >"$out/$name.out" 2>&1; t1=$(now) ;;
  esac
  check3 || { echo "$name did not leave 3 running nodes" >&2; cat "$out/$name.out" >&2; exit 1; }
  echo "$t1 - $t0" | bc
}

contenders=(seed-serial ansible hand-parallel warren)
declare -A times
for r in $(seq 1 "$ROUNDS"); do
  # Rotate the order each round so no contender always runs first (cold caches) or last.
  for k in 0 1 2 3; do
    name=${contenders[$(( (k + r - 1) % 4 ))]}
    s=$(run_one "$name"); times[$name]="${times[$name]:-} $s"
    printf 'round %d %-14s %6.2f s\n' "$r" "$name" "$s" >&2
  done
done
bash $LAB down >/dev/null

summary() {  # min / median / max of the list
  tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f / %.2f / %.2f", a[1], m, a[NR]}'
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {printf "%.2f", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
w=$(median "${times[warren]}"); a=$(median "${times[ansible]}"); p=$(median "${times[hand-parallel]}")
{
  echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ), $ROUNDS rounds"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r); RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server), Erlang $(dpkg-query -W -f='${Version}' erlang-base), Node $(node --version), ansible-core $(dpkg-query -W -f='${Version}' ansible-core); load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| contender | min / median / max (s) | each run (s) |"
  echo "|---|---|---|"
  for n in "${contenders[@]}"; do echo "| $n | $(summary "${times[$n]}") | ${times[$n]} |"; done
  echo
  echo "warren / ansible = $(echo "scale=2; $w / $a" | bc) (target ≤ 0.85); warren / hand-parallel = $(echo "scale=2; $w / $p" | bc) (target ≤ 1.10)."
  echo
  echo "Last warren run, step by step:"
  echo '```'
  grep -E '^(✓|–|✗) ' "$out/warren.out" || true
  echo '```'
  echo
} | tee -a $HERE/RESULTS.md
