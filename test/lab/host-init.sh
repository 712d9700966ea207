#!/bin/bash
# PID 1 of one lab "host". lab.sh starts it inside the host's network namespace (`ip netns exec labN`)
# plus new UTS, IPC, mount (private propagation) and PID namespaces (`unshare`), with a clean
# environment. It builds the host's private view of the machine's file system, starts sshd and
# (optionally) RabbitMQ, then stays alive as init: when it dies, the kernel kills the whole host.
#
# Usage: host-init.sh NAME DIR      (DIR = $LAB_DIR/hosts/NAME, prepared by lab.sh)
# Reads DIR/start-rabbit (1|0). Writes "rc=N" to DIR/rabbit.status once `service rabbitmq-server
# start` has returned (the Debian init script returns only when the app runs, or on failure).
set -eu
H=$1; D=$2

hostname "$H"

# /etc: overlay on the machine's /etc. Unmodified files track the machine, every write lands in
# DIR/etc.upper. lab.sh put there: hostname, hosts, ssh host key + sshd_config, Debian's default
# /etc/rabbitmq (the machine's own rabbitmq config is whited out) and whiteouts for apt sources.
# (Bind-mounting single files instead would break `sed -i` and any rename over them.)
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$D/etc.upper,workdir=$D/etc.work" /etc
mount --bind "$D/varlib"   /var/lib/rabbitmq      # cookie + mnesia
mount --bind "$D/varlog"   /var/log/rabbitmq
mount --bind "$D/root"     /root                  # ~/.ssh/authorized_keys, ~/.erlang.cookie, history
mount --bind "$D/aptlists" /var/lib/apt/lists     # `apt-get update` here must not empty the machine's lists
mount -t tmpfs -o mode=755,size=64m tmpfs /run    # pid files, /run/sshd; hides /run/systemd and /run/netns
mkdir -p /run/sshd /run/lock && chmod 755 /run/sshd && chmod 1777 /run/lock

start_rabbit=$(cat "$D/start-rabbit" 2>/dev/null || echo 0)
exec 3>>"$D/sshd.log"          # open before /tmp (which may hold DIR) is hidden
exec 4>"$D/rabbit.status"
mount --bind "$D/tmp" /tmp     # last: hides the machine's /tmp (and the lab directory under it)

# sshd reads /etc/ssh/sshd_config from the overlay; -D: stay a child of this init, -e: log to fd 3
/usr/sbin/sshd -D -e >&3 2>&3 4>&- &
exec 3>&-

# A freshly installed Debian node: rabbitmq-server is running after install (postinst starts it).
if [ "$start_rabbit" = 1 ]; then
  rc=0
  service rabbitmq-server start </dev/null 4>&- || rc=$?
  echo "rc=$rc" >&4
else
  echo "rc=not-started" >&4
fi
exec 4>&-

# Stay alive as init. bash reaps re-parented orphans (detached beam, epmd, daemonized sshd, ...).
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $! || true; done
