#!/bin/bash
# PID 1 of one lab "host". lab.sh starts it inside the host's network namespace (`ip netns exec labN`)
# plus new UTS, IPC, mount (private propagation) and PID namespaces (`unshare`), with a clean
# environment. It builds the host's private view of a file system, starts sshd and (optionally)
# RabbitMQ, then stays alive as init: when it dies, the kernel kills the whole host.
#
# Usage: host-init.sh NAME DIR      (DIR = $LAB_DIR/hosts/NAME, prepared by lab.sh)
# Two kinds of host, by what lab.sh prepared in DIR:
# - the machine's own packages (no DIR/rootfs): overlays and binds over the machine's /etc,
#   /var/lib/rabbitmq, ... (see README.md);
# - a Debian release's tree (DIR/rootfs names it): the whole root is an overlay (the shared
#   read-only tree + DIR/upper), with its own /proc, /sys, /dev and /run; this script then chroots
#   into it and runs itself there again as `host-init.sh NAME --inside` (still PID 1, and still
#   found by its command line `host-init.sh NAME`).
# Reads DIR/start-rabbit (1|0). Writes "rc=N" to DIR/rabbit.status once `service rabbitmq-server
# start` has returned (the Debian init script returns only when the app runs, or on failure).
set -eu

# sshd and RabbitMQ, then the init loop. fd 3 = sshd log, fd 4 = rabbit.status (machine side).
serve() {
  # sshd reads /etc/ssh/sshd_config of the host; -D: stay a child of this init, -e: log to fd 3
  /usr/sbin/sshd -D -e >&3 2>&3 4>&- </dev/null &
  exec 3>&-
  # A freshly installed Debian node: rabbitmq-server is running after install (postinst starts it).
  if [ "$1" = 1 ]; then
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
}

if [ "${2:-}" = --inside ]; then   # second half of a release host: chrooted into its own root
  cd /
  serve "$(cat /run/lab-start-rabbit)"
fi

H=$1; D=$2
cd /
hostname "$H"
start_rabbit=$(cat "$D/start-rabbit" 2>/dev/null || echo 0)

if [ -e "$D/rootfs" ]; then
  R=$(cat "$D/rootfs"); M=$D/merged
  mount -t overlay overlay -o "lowerdir=$R,upperdir=$D/upper,workdir=$D/work" "$M"
  mount -t proc proc "$M/proc"
  mount -t sysfs -o ro sysfs "$M/sys"
  # a private, minimal /dev: no device of the machine's
  mount -t tmpfs -o mode=755,size=1m,nosuid tmpfs "$M/dev"
  for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
    set -- $n; mknod -m 666 "$M/dev/$1" c "$2" "$3"
  done
  mkdir -m 755 "$M/dev/pts"; mkdir -m 1777 "$M/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$M/dev/pts"
  mount -t tmpfs -o mode=1777,size=64m tmpfs "$M/dev/shm"
  ln -s pts/ptmx "$M/dev/ptmx"; ln -s /proc/self/fd "$M/dev/fd"
  ln -s /proc/self/fd/0 "$M/dev/stdin"; ln -s /proc/self/fd/1 "$M/dev/stdout"; ln -s /proc/self/fd/2 "$M/dev/stderr"
  # /run: private tmpfs, no /run/systemd: `service` uses the init scripts (systemctl fails)
  mount -t tmpfs -o mode=755,size=64m tmpfs "$M/run"
  mkdir -p "$M/run/sshd" "$M/run/lock" && chmod 755 "$M/run/sshd" && chmod 1777 "$M/run/lock"
  cp "$0" "$M/run/host-init.sh"; chmod 755 "$M/run/host-init.sh"
  echo "$start_rabbit" >"$M/run/lab-start-rabbit"
  exec 3>>"$D/sshd.log" 4>"$D/rabbit.status"
  # exec: the chrooted script stays PID 1 (and keeps the name host-init.sh)
  exec chroot "$M" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 /run/host-init.sh "$H" --inside
fi

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

exec 3>>"$D/sshd.log"          # open before /tmp (which may hold DIR) is hidden
exec 4>"$D/rabbit.status"
mount --bind "$D/tmp" /tmp     # last: hides the machine's /tmp (and the lab directory under it)
serve "$start_rabbit"
