#!/usr/bin/env bash
# Times a 3-node cluster create on the lab, side by side in one run, each contender on a fresh lab
# whose nodes run RabbitMQ with their own cookies (as Debian leaves them):
#   seed-serial (runbook, serial), ansible (playbook), hand-parallel (the floor), warren (CLI + worker).
# Usage: bench/create-cluster/run.sh [ROUNDS]   (default 3). Results: bench/create-cluster/RESULTS.md
# BENCH_RELEASES (default machine): the lab releases to run it on, one after another in the same run,
# e.g. machine,trixie,forky for RabbitMQ 3.10.8, 4.0.5 and 4.3.6. On 4.x the anchors make quorum the
# vhost's default queue type instead of the mirroring policy (4.x rejects ha-mode), and ansible is
# left out: the release trees carry no Python for its modules.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
HERE=bench/create-cluster
LAB=tools/lab/lab.sh
export LAB_DIR=${LAB_DIR:-/tmp/warren-lab} LAB_START_RABBIT=1
out=$(mktemp -d)
trap 'bash $LAB down >/dev/null 2>&1 || true; [ -n "${worker:-}" ] && kill -TERM $worker 2>/dev/null; true' EXIT

command -v ansible-playbook >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ansible-core >/dev/null
command -v bc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q bc >/dev/null
# BENCH_SETUP=0: the machine is set up already (a worktree whose node_modules is a link must not npm ci)
if [ "${BENCH_SETUP:-1}" = 1 ]; then bash scripts/setup.sh; else npm run -s build; fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

now() { date +%s.%N; }
check3() {  # the contender must leave 3 running nodes, seen from lab3
  bash $LAB exec 3 bash -c 'rabbitmqctl cluster_status --formatter json </dev/null' |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).running_nodes.sort().join(",");process.exit(r==="rabbit@lab1,rabbit@lab2,rabbit@lab3"?0:1)})'
}

run_one() {  # $1 = contender, $2 = release; prints seconds
  local name=$1 t0 t1
  export LAB_RELEASES=$2
  bash $LAB down >/dev/null 2>&1 || true
  bash $LAB up 3 >/dev/null
  case $name in
    warren)
      export WARREN_CONFIG=$LAB_DIR/warren.yaml WARREN_QUEUE_PREFIX=bench-$RANDOM
      node dist/src/cli/bin.js worker >"$out/worker-$name.log" 2>&1 & worker=$!
      sleep 1   # the worker is up before the operator types (production keeps one running)
      t0=$(now); node dist/src/cli/bin.js cluster create lab >"$out/warren-$2.out" 2>&1; t1=$(now)
      kill -TERM $worker; wait $worker 2>/dev/null || true; worker=
      grep -E '^(✓|–) rabbit:' "$out/warren-$2.out" | sed 's/^/    /' >&2 ;;
    ansible) t0=$(now); bash $HERE/anchors/ansible.sh >"$out/$name.out" 2>&1; t1=$(now) ;;
    *) t0=$(now); bash $HERE/anchors/$name.sh >"$out/$name.out" 2>&1; t1=$(now) ;;
  esac
  check3 || { echo "$name did not leave 3 running nodes" >&2; cat "$out/$name.out" >&2; exit 1; }
  echo "$t1 - $t0" | bc
}

IFS=, read -ra releases <<<"${BENCH_RELEASES:-machine}"
declare -A times
for release in "${releases[@]}"; do
  if [ "$release" = machine ]; then contenders=(seed-serial ansible hand-parallel warren); export ANCHOR_REPLICATION=ha-all
  else contenders=(seed-serial hand-parallel warren); export ANCHOR_REPLICATION=quorum; fi
  LAB_RELEASES=$release bash $LAB build "$release" >/dev/null 2>&1 || true   # a missing tree is built before timing
  for r in $(seq 1 "$ROUNDS"); do
    # Rotate the order each round so no contender always runs first (cold caches) or last.
    for k in $(seq 0 $(( ${#contenders[@]} - 1 ))); do
      name=${contenders[$(( (k + r - 1) % ${#contenders[@]} ))]}
      s=$(run_one "$name" "$release"); times[$release/$name]="${times[$release/$name]:-} $s"
      printf 'round %d %-8s %-14s %6.2f s\n' "$r" "$release" "$name" "$s" >&2
    done
  done
done
bash $LAB down >/dev/null

summary() {  # min / median / max of the list
  tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f / %.2f / %.2f", a[1], m, a[NR]}'
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {printf "%.2f", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
version_of() {  # RabbitMQ version of a release, from the tree (or the machine)
  if [ "$1" = machine ]; then dpkg-query -W -f='${Version}' rabbitmq-server
  else sed -n 's/^rabbitmq-server=//p' "${LAB_CACHE:-/var/cache/warren-lab}/rootfs-$1/etc/warren-lab-tree"; fi
}
{
  echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ), $ROUNDS round(s), releases ${releases[*]}"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r); Node $(node --version), ansible-core $(dpkg-query -W -f='${Version}' ansible-core); load average before the run: $load_before."
  for release in "${releases[@]}"; do
    if [ "$release" = machine ]; then contenders=(seed-serial ansible hand-parallel warren); else contenders=(seed-serial hand-parallel warren); fi
    w=$(median "${times[$release/warren]}"); p=$(median "${times[$release/hand-parallel]}")
    echo
    echo "### $release: rabbitmq-server $(version_of "$release")"
    echo
    echo "| contender | min / median / max (s) | each run (s) |"
    echo "|---|---|---|"
    for n in "${contenders[@]}"; do echo "| $n | $(summary "${times[$release/$n]}") | ${times[$release/$n]} |"; done
    echo
    if [ "$release" = machine ]; then
      a=$(median "${times[$release/ansible]}")
      echo "warren / ansible = $(echo "scale=2; $w / $a" | bc); warren / hand-parallel = $(echo "scale=2; $w / $p" | bc) (target ≤ 0.5)."
    else
      echo "warren / hand-parallel = $(echo "scale=2; $w / $p" | bc) (target ≤ 0.5)."
    fi
    echo
    echo "Last warren run on $release, step by step:"
    echo '```'
    grep -E '^(✓|–|✗) ' "$out/warren-$release.out" || true
    echo '```'
  done
  echo
} | tee -a $HERE/RESULTS.md
