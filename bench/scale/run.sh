#!/usr/bin/env bash
# Scale: CLUSTERS clusters of 3 nodes created at once on one lab of 3 × CLUSTERS hosts, by two
# worker processes on one queue. Records the wall time, each create's time, which worker ran which
# job, each worker's peak RSS (VmHWM) and CPU, the machine's load and CPU; checks that every cluster
# ends healthy with 3 running nodes (`warren status --json`) and that no cluster ever had two
# operations at once (bench/scale/drive.ts). Then creates every cluster again (the idempotent re-run)
# with the same checks.
# Usage: bench/scale/run.sh [CLUSTERS]   (default 10). Results: bench/scale/RESULTS.md
# Env: LAB_NAME (default sc; never the default lab `lab`, which may be someone else's),
#      SCALE_CONCURRENCY (jobs per worker, default 5: the two workers can hold all 10 at once).
set -euo pipefail
cd "$(dirname "$0")/../.."
CLUSTERS=${1:-10}
HOSTS=$((3 * CLUSTERS))
HERE=bench/scale
LAB=tools/lab/lab.sh
export LAB_NAME=${LAB_NAME:-sc} LAB_START_RABBIT=1
[ "$LAB_NAME" != lab ] || { echo "scale: use a LAB_NAME other than lab (the default lab may be in use)" >&2; exit 2; }
export LAB_DIR=${LAB_DIR:-/tmp/warren-lab-$LAB_NAME}
CONCURRENCY=${SCALE_CONCURRENCY:-5}
PREFIX=scale-$$-$RANDOM
WARREN=(node dist/src/cli/bin.js --config)
out=$(mktemp -d /tmp/warren-scale.XXXXXX)
workers=(); sampler=
cleanup() {
  local p
  for p in "${workers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  bash $LAB down >/dev/null 2>&1 || true
}
trap cleanup EXIT

bash scripts/setup.sh
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

cpu_s() { awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$1/stat"; }   # utime + stime, 100 Hz ticks
hwm_mib() { awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "lab $LAB_NAME: $HOSTS hosts with RabbitMQ running (load average now $load_before)"
t0=$(date +%s.%N)
bash $LAB up "$HOSTS" >"$out/lab-up.log"
lab_up_s=$(echo "$(date +%s.%N) - $t0" | bc)
rss_lab=0
for ns in $(ip netns list | awk -v re="^$LAB_NAME[0-9]+\$" '$1 ~ re {print $1}'); do
  for p in $(ip netns pids "$ns"); do rss_lab=$((rss_lab + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
done
log "lab up in ${lab_up_s}s, $((rss_lab / 1024)) MiB RSS in its hosts; settling 20 s"
sleep 20   # let the boot's load drain before the clock starts
npx tsx $HERE/make-config.ts "$LAB_DIR/warren.yaml" "$out/warren.yaml" "$CLUSTERS" 3 >"$out/clusters"
read -ra clusters <"$out/clusters"

for w in w1 w2; do
  "${WARREN[@]}" "$out/warren.yaml" --prefix "$PREFIX" worker --concurrency "$CONCURRENCY" 2>"$out/$w.log" & workers+=($!)
done
for w in w1 w2; do   # both take jobs before anything is queued (production keeps them running)
  for _ in $(seq 300); do grep -q '"worker ready"' "$out/$w.log" && break; sleep 0.1; done
  grep -q '"worker ready"' "$out/$w.log" || { echo "scale: worker $w did not start:" >&2; cat "$out/$w.log" >&2; exit 1; }
done
npx tsx $HERE/sample.ts "$LAB_NAME" "${workers[@]}" >"$out/samples" & sampler=$!
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "workers ${workers[*]} ready (prefix $PREFIX, concurrency $CONCURRENCY each); load average $load_start"

drive_rc=0
npx tsx $HERE/drive.ts --config "$out/warren.yaml" --prefix "$PREFIX" --out "$out" \
  --worker "w1=$out/w1.log" --worker "w2=$out/w2.log" --rerun || drive_rc=$?

# Peak memory and CPU of each worker, read before they stop.
declare -A hwm cpu
for k in 0 1; do p=${workers[$k]}; hwm[w$((k + 1))]=$(hwm_mib "$p"); cpu[w$((k + 1))]=$(cpu_s "$p"); done

status_rc=0; healthy=0
for c in "${clusters[@]}"; do
  if "${WARREN[@]}" "$out/warren.yaml" status "$c" --json >"$out/status-$c.json" 2>"$out/status-$c.err" &&
    node -e 'const h=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.exit(h.headline==="healthy"&&h.nodes.filter(n=>n.running).length===3?0:1)' "$out/status-$c.json"; then
    healthy=$((healthy + 1))
  else
    status_rc=1; echo "scale: $c is not healthy with 3 running nodes:" >&2; cat "$out/status-$c.json" "$out/status-$c.err" >&2
  fi
done
log "$healthy of ${#clusters[@]} clusters healthy with 3 running nodes"

for p in "${workers[@]}"; do kill -TERM "$p"; wait "$p" 2>/dev/null || true; done; workers=()
kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=
bash $LAB down >/dev/null

# Load and CPU during each phase, from the 2 s samples (bench/scale/sample.ts) that bracket it.
phase_load() {   # $1 = phase
  node -e '
    const fs = require("fs");
    const p = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).phases[process.argv[3]];
    const s = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const end = p.startedAt + p.wallMs;
    const a = [...s].reverse().find((x) => x.t <= p.startedAt) ?? s[0], b = s.find((x) => x.t >= end) ?? s[s.length - 1];
    const inside = s.filter((x) => x.t >= a.t && x.t <= b.t), cores = require("os").cpus().length;
    const pct = (ticks) => (100 * ticks / (b.total - a.total)).toFixed(0);
    const busy = b.busy - a.busy, lab = b.lab - a.lab, workers = b.workers - a.workers;
    console.log(`1-min load average up to ${Math.max(...inside.map((x) => x.load1)).toFixed(1)}; ` +
      `CPU ${pct(busy)} % busy (of ${cores} cores over ${((b.t - a.t) / 1000).toFixed(0)} s): lab hosts ${pct(lab)} %, workers ${pct(workers)} %, everything else (other sessions, Redis, the driver) ${pct(busy - lab - workers)} %`);
  ' "$out/drive.json" "$out/samples" "$1"
}

{
  echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ): $CLUSTERS clusters × 3 nodes, 2 workers × concurrency $CONCURRENCY"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r); RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server), Erlang $(dpkg-query -W -f='${Version}' erlang-base), Node $(node --version), Redis $(redis-server --version | grep -o 'v=[^ ]*' | cut -d= -f2)."
  echo
  echo "Lab \`$LAB_NAME\`: $HOSTS hosts up with RabbitMQ running in ${lab_up_s%.*} s, $((rss_lab / 1024)) MiB RSS in its hosts. Load average (1/5/15 min): $load_before before the lab, $load_start when the workers were ready."
  echo
  echo "- During the creates: $(phase_load create)."
  echo "- During the re-run: $(phase_load rerun)."
  echo
  echo "| worker | jobs (create + re-run) | peak RSS (VmHWM) | CPU (user + sys) |"
  echo "|---|---|---|---|"
  for w in w1 w2; do
    echo "| $w | $(grep -c '"msg":"job started"' "$out/$w.log") | ${hwm[$w]} MiB | ${cpu[$w]} s |"
  done
  echo
  cat "$out/drive.md"
  echo
  echo "\`warren status <cluster> --json\` after both phases: $healthy of ${#clusters[@]} healthy with 3 running nodes."
  echo
} | tee -a $HERE/RESULTS.md
log "details in $out"
[ "$drive_rc" = 0 ] && [ "$status_rc" = 0 ]
