#!/bin/bash
# The floor: the same steps by hand with everything that may run in parallel in parallel
# (install, cookie stop/write/start), joins serial. Uses the lab prototype (LAB_START_RABBIT=1 lab.sh up 3 first).
set -uo pipefail
LAB=$(dirname "$(readlink -f "$0")")/../../../tools/lab/lab.sh   # the project's lab (the prototype's cannot cluster here)
s() { "$LAB" ssh "$@" </dev/null; }
T0=$EPOCHREALTIME
for i in 1 2 3; do s $i 'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q rabbitmq-server >/dev/null 2>&1' & done; wait
s 1 'service rabbitmq-server status >/dev/null 2>&1 || timeout 120 service rabbitmq-server start >/dev/null' || exit 1
COOKIE=$(s 1 'cat /var/lib/rabbitmq/.erlang.cookie') || exit 1
for i in 2 3; do
  ( s $i 'rabbitmqctl -q shutdown >/dev/null 2>&1; true'
    printf '%s' "$COOKIE" | "$LAB" ssh $i 'install -m 400 -o rabbitmq -g rabbitmq /dev/stdin /var/lib/rabbitmq/.erlang.cookie' &&
    s $i 'timeout 120 service rabbitmq-server start >/dev/null' ) &
done; wait
for i in 2 3; do
  s $i 'rabbitmqctl -q stop_app && rabbitmqctl -q join_cluster rabbit@lab1 && rabbitmqctl -q start_app' || exit 1
done
# replication: the runbook's mirroring policy on 3.x; 4.x rejects ha-mode (exit 69), so there the
# quorum queue type becomes the vhost's default instead (ANCHOR_REPLICATION=quorum, set by run.sh)
if [ "${ANCHOR_REPLICATION:-ha-all}" = quorum ]; then
  s 1 "rabbitmqctl -q update_vhost_metadata / --default-queue-type quorum" || exit 1
else
  s 1 "rabbitmqctl -q set_policy ha-all '^(?!amq\.).*' '{\"ha-mode\":\"all\"}'" || exit 1
fi
s 1 'rabbitmqctl cluster_status --formatter json' > /tmp/hand-parallel-status.json || exit 1
python3 -c "import json,sys; d=json.load(open('/tmp/hand-parallel-status.json')); sys.exit(0 if sorted(d['running_nodes'])==['rabbit@lab1','rabbit@lab2','rabbit@lab3'] else 1)" || exit 1
printf 'hand-parallel %.2f s\n' "$(echo "$EPOCHREALTIME - $T0" | bc)"
