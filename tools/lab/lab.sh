#!/bin/bash
# warren's test lab: N real Debian "hosts" built from Linux namespaces (no containers, no VMs).
# Each host NAMEI (NAME = $LAB_NAME, default lab: hosts lab1, lab2, ...) has its own network, UTS,
# IPC, mount and PID namespaces: its own hostname, /etc, /var/lib/rabbitmq, /var/log/rabbitmq, /root,
# /run and /tmp, an sshd with its own host key that accepts the lab's client key for root, and (by
# default) a running rabbitmq-server with its own random Erlang cookie, exactly like a freshly
# installed Debian node. See README.md next to this file.
#
#   lab.sh up [N]         tear down leftovers, build bridge + N hosts (default 3), wait until ready,
#                         write $LAB_DIR/warren.yaml (and print its path)
#   lab.sh down           kill every process of this lab, delete its netns/veth/bridge, wipe state
#                         (idempotent, works without state files; other labs are not touched)
#   lab.sh build SUITE... build the Debian release trees that are missing (bookworm, trixie, forky)
#   lab.sh status
#   lab.sh boot I         start host I again after `crash` (its disks are kept), wait until ready
#   lab.sh crash I        power cut: every process of host I dies at once
#   lab.sh isolate I      silent partition: host I's link goes down (packets dropped, no RST)
#   lab.sh heal I         link up again
#   lab.sh exec I CMD...  backdoor: run CMD in all of host I's namespaces (nsenter, no ssh), as root
#                         with a clean login-like environment
#   lab.sh ssh I CMD...   run CMD on host I over ssh as root (strict host key checking)
#   lab.sh sshd-stop I    kill sshd (listener and sessions) inside host I; everything else keeps running
#   lab.sh sshd-start I   start sshd inside host I again, wait until it answers
#
# Env: LAB_NAME (default lab; several labs with different names coexist on one machine: 1-7
# characters, lowercase letters and digits, starting and ending with a letter; it names the hosts,
# netns NAMEI, veths veth-NAMEI and the warren cluster), LAB_DIR (default /tmp/warren-lab, or
# /tmp/warren-lab-NAME), LAB_START_RABBIT (1 = default: rabbitmq-server running at boot; 0 =
# installed but stopped), LAB_BRIDGE (default NAMEbr0), LAB_SUBNET (default 10.213.0.0/24 for lab,
# else 10.213.X.0/24 with X = 1..254 from a checksum of NAME; used only by the lab: bridge .1,
# hosts .11, .12, ...), LAB_SSH_TIMEOUT (s, default 30), LAB_RABBIT_TIMEOUT (s, default 60 + 20 per
# host), LAB_RELEASES (comma list, release of host 1, 2, ..., the last one repeats: machine = the
# machine's own packages, the default; bookworm, trixie, forky = that Debian release's own root file
# system and RabbitMQ, built once into $LAB_CACHE), LAB_CACHE (default /var/cache/warren-lab),
# LAB_MIRROR (default http://deb.debian.org/debian, used only to build trees).
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
INIT=$HERE/host-init.sh
die() { echo "lab: $*" >&2; exit 1; }

# The lab's name prefixes every machine-global name (netns NAMEI, veth-NAMEI, bridge NAMEbr0), so
# labs with different names never share one. At most 7 characters: "veth-" + NAME + a 3-digit
# index must fit the kernel's 15-character interface names. Ending in a letter keeps NAME + index
# unambiguous (lab "ab" host 11 and lab "ab1" host 1 would both be "ab11").
NAME=${LAB_NAME:-lab}
[[ $NAME =~ ^[a-z]([a-z0-9]{0,5}[a-z])?$ ]] || die "LAB_NAME must be 1-7 characters, lowercase letters and digits, starting and ending with a letter: '$NAME'"
if [ "$NAME" = lab ]; then
  DEFAULT_DIR=/tmp/warren-lab; DEFAULT_SUBNET=10.213.0.0/24
else   # derived, so two named labs need no settings; `up` refuses a subnet already in use
  DEFAULT_DIR=/tmp/warren-lab-$NAME
  DEFAULT_SUBNET=10.213.$(( $(printf '%s' "$NAME" | cksum | cut -d' ' -f1) % 254 + 1 )).0/24
fi
LAB_DIR=$(realpath -m -- "${LAB_DIR:-$DEFAULT_DIR}")
START_RABBIT=${LAB_START_RABBIT:-1}
LAB_CACHE=${LAB_CACHE:-/var/cache/warren-lab}
MIRROR=${LAB_MIRROR:-http://deb.debian.org/debian}
BR=${LAB_BRIDGE:-${NAME}br0}
SUBNET=${LAB_SUBNET:-$DEFAULT_SUBNET}
KEYS=$LAB_DIR/keys; STATE=$LAB_DIR/state; HOSTS=$LAB_DIR/hosts; CONFIG=$LAB_DIR/warren.yaml
HOST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SSH_OPTS=(-F /dev/null -i "$KEYS/client_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
          -o UserKnownHostsFile="$KEYS/known_hosts" -o GlobalKnownHostsFile=/dev/null
          -o StrictHostKeyChecking=yes -o ConnectTimeout=5 -o LogLevel=ERROR)

[ "$(id -u)" = 0 ] || die "must run as root (namespaces, bridge, mounts)"
[[ $LAB_DIR =~ ^/[A-Za-z0-9._/-]+$ ]] || die "LAB_DIR must be a plain absolute path (letters, digits, . _ - /): $LAB_DIR"
[[ $SUBNET =~ ^([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})\.0/24$ ]] || die "LAB_SUBNET must look like 10.213.0.0/24: $SUBNET"
NET=${BASH_REMATCH[1]}
[[ $BR =~ ^[A-Za-z0-9_-]{1,15}$ ]] || die "LAB_BRIDGE must be an interface name (at most 15 characters): $BR"
# One directory, one lab: state files are per directory, names are per lab.
if [ -e "$LAB_DIR/name" ] && [ "$(cat "$LAB_DIR/name")" != "$NAME" ]; then
  die "$LAB_DIR belongs to lab '$(cat "$LAB_DIR/name")', not '$NAME' (set LAB_NAME=$(cat "$LAB_DIR/name") or another LAB_DIR)"
fi

ip_of() { echo "$NET.$((10 + $1))"; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%02ds' $((ms / 1000)) $((ms % 1000 / 10)); }
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }  # zombie = dead
count() { cat "$STATE/count" 2>/dev/null || echo 0; }
# Where a host's /etc and RabbitMQ log are written, seen from the machine: the machine-package host
# overlays /etc and binds the log dir; a release host's writes all land in its overlay upper dir.
host_etc() { if [ -e "$HOSTS/$NAME$1/rootfs" ]; then echo "$HOSTS/$NAME$1/upper/etc"; else echo "$HOSTS/$NAME$1/etc.upper"; fi; }
host_logs() { if [ -e "$HOSTS/$NAME$1/rootfs" ]; then echo "$HOSTS/$NAME$1/upper/var/log/rabbitmq"; else echo "$HOSTS/$NAME$1/varlog"; fi; }

check_index() {   # $1 = host index; the lab must be up and know this host
  [[ ${1:-} =~ ^[1-9][0-9]*$ ]] || die "host index must be a number >= 1: '${1:-}'"
  [ "$1" -le "$(count)" ] || die "no host $NAME$1 (lab has $(count) hosts; run: $0 up)"
}

host_pid() {   # PID (machine's view) of `unshare` for host I, if it still runs our host-init
  local f=$STATE/$NAME$1.pid pid
  [ -e "$f" ] || return 1
  pid=$(cat "$f")
  # no pipe here: grep -q under pipefail can die of SIGPIPE
  grep -qaF -- "$INIT" "/proc/$pid/cmdline" 2>/dev/null && alive "$pid" || return 1
  echo "$pid"
}

host_init_pid() {   # PID (machine's view) of host I's PID 1 = the child of its `unshare`
  local up child
  up=$(host_pid "$1") || return 1
  child=$(cut -d' ' -f1 "/proc/$up/task/$up/children" 2>/dev/null) || return 1
  [ -n "$child" ] && alive "$child" || return 1
  echo "$child"
}

in_host() {   # run "$@" in all namespaces of host I, as root, with a clean login-like environment
  local i=$1 pid; shift
  pid=$(host_init_pid "$i") || die "$NAME$i is not running (crashed? run: $0 boot $i)"
  nsenter -t "$pid" -a -r -w -- env -i PATH="$HOST_PATH" HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
    LANG=C.UTF-8 TERM=dumb "$@"
}

# ------------------------------------------------------------------------------ Debian release trees
# A host runs either the machine's own packages (release `machine`, the default: /usr, dpkg, the
# machine's rabbitmq-server) or a Debian release's own root file system, built once per machine with
# debootstrap into $LAB_CACHE/rootfs-SUITE and shared read-only by every host of every lab (each host
# writes to its own overlay upper dir).
release_of() {   # release of host I from LAB_RELEASES (comma list, the last one repeats)
  local -a r; IFS=, read -ra r <<<"${LAB_RELEASES:-machine}"
  local k=$(( $1 - 1 )); [ "$k" -lt "${#r[@]}" ] || k=$(( ${#r[@]} - 1 )); echo "${r[$k]}"
}
valid_release() { case $1 in machine|bookworm|trixie|forky) return 0;; *) return 1;; esac; }
tree_of() { echo "$LAB_CACHE/rootfs-$1"; }
wait_all() { local p rc=0; for p in $(jobs -p); do wait "$p" || rc=1; done; return $rc; }
# A tree counts only once its build finished: it is built under a temporary name and renamed at
# the end, and the marker written last must name its suite.
tree_complete() { [ -x "$(tree_of "$1")/usr/sbin/rabbitmq-server" ] && grep -qx "suite=$1" "$(tree_of "$1")/etc/warren-lab-tree" 2>/dev/null; }

ensure_tree() {   # SUITE: build it unless complete; machine-wide, one builder per suite at a time
  tree_complete "$1" && return 0
  command -v debootstrap >/dev/null || die "no debootstrap on this machine, needed to build the $1 tree (run scripts/setup.sh, or apt-get install debootstrap)"
  mkdir -p "$LAB_CACHE"
  # flock -o: the lock is held by flock alone, never inherited by anything the build starts;
  # 9>&-: nor the lab's own lock. A second lab waiting here finds the tree complete and returns.
  flock -o -w 900 "$LAB_CACHE/.build-$1.lock" bash "$0" __build-tree "$1" 9>&- || die "building the $1 tree failed (log: $LAB_CACHE/build-$1.log)"
}

build_tree() {   # SUITE: debootstrap into a temporary dir, then apt-get install, then rename
  local suite=$1 r t tmp script t0 mirror_host; r=$(tree_of "$suite"); t0=$(now_ms)
  if tree_complete "$suite"; then return 0; fi
  tmp=$LAB_CACHE/.building-$suite
  rm -rf "$tmp" "$r"   # a half-built tree (killed build) is started over
  exec >"$LAB_CACHE/build-$suite.log" 2>&1
  echo "building $suite into $tmp (mirror $MIRROR)"
  # Stage 1: minbase only. No package that starts a daemon: its postinst would run in the
  # machine's own namespaces. A debootstrap older than the suite (bookworm's has no forky) uses sid's.
  script=/usr/share/debootstrap/scripts/$suite
  [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
  debootstrap --variant=minbase --include=procps,iproute2,hostname "$suite" "$tmp" "$MIRROR" "$script"
  # Stage 2: the daemons, in throw-away mount/UTS/PID namespaces, with policy-rc.d forbidding every
  # start (it stays: installing in a host never starts anything, as on the machine).
  # Check-Valid-Until=false: a testing suite's InRelease expires after a week on a frozen mirror.
  # ca-certificates: forky's rabbitmqadmin-ng does not start without a CA bundle.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"; chmod 755 "$tmp/usr/sbin/policy-rc.d"
  mirror_host=${MIRROR#*://}; mirror_host=${mirror_host%%[/:]*}
  { echo "127.0.0.1 localhost"; getent hosts "$mirror_host" || true; } >"$tmp/etc/hosts"
  unshare --mount --uts --ipc --pid --fork --kill-child=SIGKILL bash -c '
    set -e; r=$1; mount --make-rprivate /
    mount -t proc proc "$r/proc"; mount --bind /dev "$r/dev"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
    hostname warren-lab-build
    chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 sh -c "
      apt-get -o Acquire::Check-Valid-Until=false update &&
      apt-get install -y --no-install-recommends rabbitmq-server openssh-server ca-certificates &&
      apt-get clean"
  ' _ "$tmp" </dev/null
  # what every host overrides anyway: no shared cookie, keys or machine identity in the tree
  echo "127.0.0.1 localhost" >"$tmp/etc/hosts"
  : >"$tmp/etc/resolv.conf"
  rm -f "$tmp/var/lib/rabbitmq/.erlang.cookie" "$tmp/etc/ssh/ssh_host_"*
  {
    echo "suite=$suite"
    echo "rabbitmq-server=$(chroot "$tmp" dpkg-query -W -f '${Version}' rabbitmq-server)"
    echo "built=$(date -u +%FT%TZ) mirror=$MIRROR"
  } >"$tmp/etc/warren-lab-tree.tmp"
  mv "$tmp/etc/warren-lab-tree.tmp" "$tmp/etc/warren-lab-tree"
  mv "$tmp" "$r"
  echo "built $r ($(sed -n 's/^rabbitmq-server=//p' "$r/etc/warren-lab-tree")) in $(elapsed "$t0"), $(du -sh "$r" | cut -f1)"
}

# ---------------------------------------------------------------------------------------------------
write_identity() {   # I ETC ROOT: hostname, /etc/hosts, sshd (own host key), root's authorized key
  local i=$1 h=$NAME$1 etc=$2 root=$3 j f
  echo "$h" > "$etc/hostname"
  {
    echo "127.0.0.1 localhost"
    echo "::1 localhost ip6-localhost ip6-loopback"
    echo "ff02::1 ip6-allnodes"
    echo "ff02::2 ip6-allrouters"
    echo
    for j in $(seq 1 "$N"); do echo "$(ip_of "$j") $NAME$j"; done
  } > "$etc/hosts"

  # sshd: own host key, root login with the lab client key only
  rm -f "$etc/ssh/ssh_host_"*
  ssh-keygen -q -t ed25519 -N '' -C "root@$h" -f "$etc/ssh/ssh_host_ed25519_key"
  cat > "$etc/ssh/sshd_config" <<EOF2
# lab host $h (written by warren's tools/lab/lab.sh)
Port 22
ListenAddress 0.0.0.0
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
UseDNS no
PidFile /run/sshd.pid
MaxStartups 100:30:200
MaxSessions 64
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF2
  chmod 600 "$etc/ssh/ssh_host_ed25519_key"
  mkdir -p -m 700 "$root/.ssh"; chmod 700 "$root" "$root/.ssh"
  cp "$KEYS/client_ed25519.pub" "$root/.ssh/authorized_keys"; chmod 600 "$root/.ssh/authorized_keys"
  echo "$(ip_of "$i"),$h $(cut -d' ' -f1,2 "$etc/ssh/ssh_host_ed25519_key.pub")" >> "$KEYS/known_hosts"
}

write_host_files() {   # $1 = index; everything a host needs on disk before it boots
  local i=$1 d=$HOSTS/$NAME$1 release; release=$(release_of "$1")
  rm -rf "$d"; mkdir -p "$d"
  echo "$release" > "$d/release"
  if [ "$release" = machine ]; then write_machine_host "$i" "$d"; else write_release_host "$i" "$d" "$(tree_of "$release")"; fi
  echo "$START_RABBIT" > "$d/start-rabbit"
}

write_machine_host() {   # I DIR: a host of the machine's own packages (binds + /etc overlay)
  local i=$1 d=$2 f
  mkdir -p "$d"/{etc.upper/ssh,etc.upper/apt/sources.list.d,etc.work,varlib/mnesia,varlog,root/.ssh,tmp}
  chmod 1777 "$d/tmp"; chmod 700 "$d/root" "$d/root/.ssh"
  write_identity "$i" "$d/etc.upper" "$d/root"
  for f in profile bashrc; do   # what a fresh Debian root has
    [ -e "/usr/share/base-files/dot.$f" ] && cp "/usr/share/base-files/dot.$f" "$d/root/.$f"
  done

  # /etc/rabbitmq as Debian's postinst leaves it: only rabbitmq-env.conf from the package template.
  # The machine's own /etc/rabbitmq may carry NODENAME=rabbit@localhost, a loopback-only Erlang
  # distribution and listeners; inherited through the overlay they would make every host
  # rabbit@localhost and unclusterable. Hide every entry of it (whiteout = char device 0/0).
  install -d -m 755 -o rabbitmq -g rabbitmq "$d/etc.upper/rabbitmq"
  for f in /etc/rabbitmq/* /etc/rabbitmq/.[!.]*; do
    if [ -e "$f" ] || [ -L "$f" ]; then mknod "$d/etc.upper/rabbitmq/${f##*/}" c 0 0; fi
  done
  rm -f "$d/etc.upper/rabbitmq/rabbitmq-env.conf"
  if [ -r /usr/share/rabbitmq/rabbitmq-env.conf ]; then
    install -m 644 -o rabbitmq -g rabbitmq /usr/share/rabbitmq/rabbitmq-env.conf "$d/etc.upper/rabbitmq/rabbitmq-env.conf"
  else
    printf '# Defaults to rabbit.\n#NODENAME=rabbit\n' > "$d/etc.upper/rabbitmq/rabbitmq-env.conf"
    chown rabbitmq:rabbitmq "$d/etc.upper/rabbitmq/rabbitmq-env.conf"
  fi

  # fresh "just installed" RabbitMQ state: own random cookie, generated as Debian's postinst does
  (umask 077; openssl rand -base64 -out "$d/varlib/.erlang.cookie" 42)
  chmod 400 "$d/varlib/.erlang.cookie"; chmod 750 "$d/varlib/mnesia"
  chown -R rabbitmq:rabbitmq "$d/varlib" "$d/varlog"

  # apt: the host has the machine's package lists (a private copy: `apt-get update` in a host must
  # not empty the machine's lists) but no sources (whiteouts), so apt never tries the network.
  mkdir -p "$d/aptlists/partial"
  for f in /var/lib/apt/lists/*; do
    case ${f##*/} in lock|partial|auxfiles) ;; *) [ -f "$f" ] && cp -p "$f" "$d/aptlists/";; esac
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [ -e "$f" ]; then mknod "$d/etc.upper/apt/${f#/etc/apt/}" c 0 0; fi
  done
}

upper_mkdir() {   # DIR TREE /abs/path: make it in DIR/upper with the tree's owner and mode
  local d=$1 r=$2 acc="" c; local -a parts; IFS=/ read -ra parts <<<"${3#/}"
  for c in "${parts[@]}"; do
    acc=$acc/$c
    [ -d "$d/upper$acc" ] && continue
    if [ -d "$r$acc" ] && [ ! -L "$r$acc" ]; then
      # an upper dir with other metadata than its lower one would replace it (root-owned /root, ...)
      install -d -o "$(stat -c %u "$r$acc")" -g "$(stat -c %g "$r$acc")" -m "$(stat -c %a "$r$acc")" "$d/upper$acc"
    else
      mkdir "$d/upper$acc"
    fi
  done
}

write_release_host() {   # I DIR TREE: a host whose root is TREE (read-only) + DIR/upper
  local i=$1 d=$2 r=$3 f own c
  tree_complete "${r##*/rootfs-}" || die "no complete tree $r"
  mkdir -p "$d/upper" "$d/work" "$d/merged"
  echo "$r" > "$d/rootfs"
  upper_mkdir "$d" "$r" /etc/ssh
  upper_mkdir "$d" "$r" /etc/apt/sources.list.d
  upper_mkdir "$d" "$r" /root
  upper_mkdir "$d" "$r" /var/lib/rabbitmq
  write_identity "$i" "$d/upper/etc" "$d/upper/root"
  : > "$d/upper/etc/resolv.conf"   # no DNS (the hosts have no route out anyway)
  # apt: the release's own lists stay, its sources are hidden, so apt never tries the network
  for f in "$r"/etc/apt/sources.list "$r"/etc/apt/sources.list.d/*.list "$r"/etc/apt/sources.list.d/*.sources; do
    if [ -e "$f" ]; then mknod "$d/upper/etc/apt/${f#"$r"/etc/apt/}" c 0 0; fi
  done
  # Own random cookie, like the release's postinst (20 capital letters), 0400 rabbitmq. The
  # rabbitmq uid/gid differ per release (and from the machine's): resolved by name in the
  # host's own passwd/group, never the machine's.
  own=$(awk -F: '$1 == "rabbitmq" {print $3}' "$r/etc/passwd"):$(awk -F: '$1 == "rabbitmq" {print $3}' "$r/etc/group")
  [[ $own =~ ^[0-9]+:[0-9]+$ ]] || die "no rabbitmq user/group in $r"
  c=$(head -c 4096 /dev/urandom | tr -dc A-Z); printf %s "${c:0:20}" > "$d/upper/var/lib/rabbitmq/.erlang.cookie"
  chown "$own" "$d/upper/var/lib/rabbitmq/.erlang.cookie"; chmod 400 "$d/upper/var/lib/rabbitmq/.erlang.cookie"
}

close_inherited_fds() {   # in a subshell about to exec a long-lived process: only stdin, stdout, stderr stay
  local fd
  for fd in $(ls /proc/$BASHPID/fd); do
    [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

boot_host() {   # start host I's PID 1 in the background; netns and files must exist
  local h=$NAME$1 d=$HOSTS/$NAME$1
  rm -f "$d/rabbit.status"
  # setsid: detached from the caller's session/process group (a ^C in a test run does not power
  # off the lab by accident). env -i: the host does not inherit the caller's environment.
  # `ip netns exec` execs unshare in the same PID: $! is the unshare. --kill-child: if that PID
  # dies, the host's PID 1 gets SIGKILL and with it the kernel kills everything in the PID ns.
  # Every descriptor but 0-2 is closed first: a host lives on after lab.sh, and one holding a lock
  # fd of its caller's (`flock LOCK npx vitest ...` hands its lock down) would keep that lock taken
  # for as long as the lab stays up. The subshell execs, so $! is still the unshare.
  (
    close_inherited_fds
    exec setsid env -i PATH="$HOST_PATH" LANG=C.UTF-8 HOME=/root TERM=dumb \
      ip netns exec "$h" unshare --uts --ipc --mount --propagation private --pid --fork --mount-proc \
        --kill-child=SIGKILL "$INIT" "$h" "$d" </dev/null >>"$d/init.log" 2>&1
  ) &
  local pid=$!
  echo "$pid" > "$STATE/$h.pid"
  # Until the subshell has exec'd, its command line is lab.sh's, and host_pid (which checks for
  # host-init.sh there, against PID reuse) would call a host that is still booting dead. On a
  # loaded machine that window outlasted the first ssh try of wait_sshd (CI: "lab3: host died
  # while booting", with no init.log yet). Wait for the exec, or for the subshell to end.
  until grep -qaF -- "$INIT" "/proc/$pid/cmdline" 2>/dev/null; do
    alive "$pid" || break
    sleep 0.01
  done
}

wait_sshd() {   # $1 = index, $2 = deadline (SECONDS): until `ssh root@host true` works
  local i=$1 ip; ip=$(ip_of "$1")
  until ssh "${SSH_OPTS[@]}" "root@$ip" true </dev/null 2>/dev/null; do
    kill -0 $$ 2>/dev/null || return 1   # the lab.sh that waits for us was killed
    host_pid "$i" >/dev/null || { echo "$NAME$i: host died while booting:" >&2; tail -n 20 "$HOSTS/$NAME$i/init.log" >&2; return 1; }
    [ $SECONDS -lt "$2" ] || { echo "$NAME$i: sshd not reachable in time:" >&2; tail -n 20 "$HOSTS/$NAME$i/sshd.log" >&2; return 1; }
    sleep 0.1
  done
}

wait_rabbit() {   # $1 = index, $2 = deadline: until host-init reports how `service rabbitmq-server start` ended
  local i=$1 f=$HOSTS/$NAME$1/rabbit.status rc
  until grep -q '^rc=' "$f" 2>/dev/null; do
    kill -0 $$ 2>/dev/null || return 1
    host_pid "$i" >/dev/null || { echo "$NAME$i: host died while booting" >&2; return 1; }
    [ $SECONDS -lt "$2" ] || { echo "$NAME$i: rabbitmq-server not started in time:" >&2; tail -n 20 "$(host_logs "$i")/rabbit@$NAME$i.log" >&2 2>/dev/null; return 1; }
    sleep 0.1
  done
  rc=$(sed -n 's/^rc=//p' "$f")
  case $rc in
    0|not-started) ;;
    *) echo "$NAME$i: rabbitmq-server failed to start (rc=$rc):" >&2; tail -n 20 "$HOSTS/$NAME$i/init.log" >&2; return 1;;
  esac
}

parallel() {   # parallel FN DEADLINE I... : FN I DEADLINE for every I at once; fails if any fails
  local fn=$1 deadline=$2 i rc=0 pids=(); shift 2
  # 9>&-: a waiter orphaned by a killed lab.sh must not keep holding the lock
  for i in "$@"; do "$fn" "$i" "$deadline" 9>&- & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  return $rc
}

wait_ready() {   # hosts I... answer ssh, and rabbit has started (if it is to be started)
  parallel wait_sshd $((SECONDS + ${LAB_SSH_TIMEOUT:-30})) "$@"
  parallel wait_rabbit $((SECONDS + ${LAB_RABBIT_TIMEOUT:-$((60 + 20 * $#))})) "$@"
}

write_config() {   # $LAB_DIR/warren.yaml: the lab as a warren inventory (src/config/schema.ts)
  local i nodes=() tmp=$CONFIG.tmp
  for i in $(seq 1 "$N"); do nodes+=("$NAME$i"); done
  {
    echo "# warren config for the test lab, written by tools/lab/lab.sh up (removed by down)"
    echo "ssh:"
    echo "  connectTimeoutMs: 10000"
    echo "  commandTimeoutMs: 180000"
    echo "hosts:"
    for i in $(seq 1 "$N"); do
      echo "  - name: $NAME$i"
      echo "    address: $(ip_of "$i")"
      echo "    port: 22"
      echo "    user: root"
      echo "    privateKeyPath: $KEYS/client_ed25519"
      echo "    hostKey: \"$(cut -d' ' -f1,2 "$(host_etc "$i")/ssh/ssh_host_ed25519_key.pub")\""
    done
    echo "clusters:"
    echo "  - name: $NAME"
    echo "    nodes: [$(IFS=,; echo "${nodes[*]}" | sed 's/,/, /g')]"
    echo "    seed: ${NAME}1"
  } > "$tmp"
  mv "$tmp" "$CONFIG"
}

up() {
  N=${1:-3}
  [[ $N =~ ^[1-9][0-9]*$ ]] && [ "$N" -le 200 ] || die "host count must be 1..200: $N"
  [[ $START_RABBIT =~ ^[01]$ ]] || die "LAB_START_RABBIT must be 0 or 1: $START_RABBIT"
  local t0 i rel rels; t0=$(now_ms)
  IFS=, read -ra rels <<<"${LAB_RELEASES:-machine}"
  for rel in "${rels[@]}"; do valid_release "$rel" || die "LAB_RELEASES: unknown release '$rel' (machine, bookworm, trixie or forky)"; done
  # the trees this lab needs, built in parallel if missing (a no-op when cached)
  for rel in $(for i in $(seq 1 "$N"); do release_of "$i"; done | sort -u); do
    [ "$rel" = machine ] || ensure_tree "$rel" &
  done
  wait_all || die "a release tree could not be built"
  down >/dev/null   # leftovers of an earlier (aborted) run, whatever state files say
  if ip -4 -o addr show to "$SUBNET" | grep -q .; then
    die "subnet $SUBNET is already in use on this machine: $(ip -4 -o addr show to "$SUBNET" | awk '{print $2}' | xargs) (set LAB_SUBNET)"
  fi
  mkdir -p "$KEYS" "$STATE" "$HOSTS"
  [ -f "$KEYS/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C warren-lab-client -f "$KEYS/client_ed25519"
  : > "$KEYS/known_hosts"
  echo "$N" > "$STATE/count"
  echo "$NAME" > "$LAB_DIR/name"

  ip link add "$BR" type bridge
  ip addr add "$NET.1/24" dev "$BR"
  ip link set "$BR" up
  for i in $(seq 1 "$N"); do
    write_host_files "$i"
    ip netns add "$NAME$i"
    ip link add "veth-$NAME$i" type veth peer name eth0 netns "$NAME$i"
    ip link set "veth-$NAME$i" master "$BR" up
    ip -n "$NAME$i" link set lo up
    ip -n "$NAME$i" addr add "$(ip_of "$i")/24" dev eth0
    ip -n "$NAME$i" link set eth0 up
    boot_host "$i"
  done
  write_config
  wait_ready $(seq 1 "$N")
  echo "lab up: $N host$( [ "$N" = 1 ] || echo s) ($( [ "$START_RABBIT" = 1 ] && echo "rabbitmq running" || echo "rabbitmq stopped"); $(for i in $(seq 1 "$N"); do printf '%s=%s ' "$NAME$i" "$(release_of "$i")"; done | sed 's/ $//')) in $(elapsed "$t0")"
  echo "config: $CONFIG"
}

own_hosts() {   # PIDs of this lab's unshare and host-init.sh processes, found by command line
  # Both run `.../host-init.sh NAMEI DIR`. Matching the host name, not just the script, keeps a down
  # of one lab away from every other lab's hosts (whatever checkout they were started from); only
  # processes in a netns other than ours count (not e.g. an editor that has the script open).
  local f pid k argv mynet; mynet=$(readlink /proc/self/ns/net)
  # "[h]" keeps grep from matching its own command line
  for f in $(grep -laE '[h]ost-init\.sh' /proc/[0-9]*/cmdline 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    mapfile -d '' argv <"$f" 2>/dev/null || continue
    for ((k = 0; k + 1 < ${#argv[@]}; k++)); do
      if [ "${argv[k]##*/}" = host-init.sh ] && [[ ${argv[k+1]} =~ ^$NAME[0-9]+$ ]]; then
        [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$mynet" ] && echo "$pid"
        break
      fi
    done
  done
  return 0
}

down() {   # idempotent; works without state files (e.g. after a crashed test run); this lab only
  set +e
  local t0 f pid ns pids left l i killed=() pidns=(); t0=$(now_ms)
  # The hosts' PID namespaces, while their inits still run: step 6 waits for those to empty.
  for i in $(seq 1 "$(count)"); do
    pid=$(host_init_pid "$i" 2>/dev/null) && pidns+=("$(readlink "/proc/$pid/ns/pid" 2>/dev/null)")
  done
  # 1) recorded unshare PIDs; unshare --fork ignores SIGTERM: SIGKILL (--kill-child takes the host along)
  for f in "$STATE"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    grep -qaF -- "$INIT" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null && killed+=("$pid")
  done
  # 2) no state files (or stale ones): any process still running host-init.sh for one of our hosts
  #    (a netns whose name was deleted under live processes is found this way too)
  for pid in $(own_hosts); do kill -KILL "$pid" 2>/dev/null && killed+=("$pid"); done
  # hosts that `crash` killed and the machine's init may not have reaped yet
  [ -e "$STATE/killed" ] && killed+=($(cat "$STATE/killed"))
  # 3) anything still inside one of our netns (nsenter sessions, ...), then the netns itself
  for ns in $(ip netns list | awk -v re="^$NAME[0-9]+\$" '$1 ~ re {print $1}'); do
    for _ in $(seq 200); do
      pids=$(ip netns pids "$ns" 2>/dev/null)
      [ -z "$pids" ] && break
      kill -KILL $pids 2>/dev/null; sleep 0.05
    done
    [ -z "$pids" ] || echo "lab: processes left in netns $ns: $pids" >&2
    ip netns del "$ns"   # also deletes eth0 and its veth peer
  done
  # 4) netns teardown is asynchronous: the machine-side veth ends vanish a moment later. Wait for
  #    them, deleting stragglers (an immediate `up` would otherwise fail with "File exists").
  for _ in $(seq 200); do
    left=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^veth-$NAME[0-9]+\$")
    [ -z "$left" ] && break
    for l in $left; do ip link del "$l" 2>/dev/null; done
    sleep 0.05
  done
  [ -z "$left" ] || echo "lab: veth left: $left" >&2
  ip link show "$BR" >/dev/null 2>&1 && ip link del "$BR"
  # 5) the killed unshare and host-init processes were orphans of the machine's init, which reaps
  #    them only after a while (~1 s here): until then `ps` shows them as <defunct>. Wait for that,
  #    so that "down" really means no process of this lab of any kind is left.
  for _ in $(seq 100); do
    left=$(zombies "${killed[@]}")
    [ -z "$left" ] && break
    sleep 0.05
  done
  [ -z "$left" ] || echo "lab: not yet reaped by the machine's init: $left" >&2
  # 6) a host's other processes (rabbit, epmd, sshd…) are killed with its init, but the kernel
  #    finishes them a moment later: until then they still show in /proc, in the host's PID
  #    namespace. Wait for the last of them (seen: a test found two right after `down`).
  if [ ${#pidns[@]} -gt 0 ]; then
    for _ in $(seq 100); do
      left=$(find /proc/[0-9]*/ns/pid -maxdepth 0 -printf '%l\n' 2>/dev/null | grep -cxF -f <(printf '%s\n' "${pidns[@]}"))
      [ "${left:-0}" = 0 ] && break
      sleep 0.05
    done
    [ "${left:-0}" = 0 ] || echo "lab: $left process(es) of the hosts' PID namespaces still exiting" >&2
  fi
  rm -rf "$STATE" "$HOSTS" "$CONFIG" "$CONFIG.tmp" "$KEYS/known_hosts" "$LAB_DIR/name"
  echo "lab down in $(elapsed "$t0")"
  set -e
}

zombies() {   # of the given PIDs, those still in the process table as unshare or host-init.sh
  local p c   # `read` builtin, no fork per process (a zombie keeps its comm)
  for p in "$@"; do
    { read -r c <"/proc/$p/comm"; } 2>/dev/null || continue
    case $c in unshare|host-init.sh) echo -n "$p ";; esac
  done
  return 0
}

status() {
  local n i pid link sshd rabbit
  n=$(count)
  if ip link show "$BR" >/dev/null 2>&1; then ip -br addr show "$BR"; else echo "no bridge $BR"; fi
  [ "$n" -gt 0 ] || { echo "lab is down"; return 0; }
  for i in $(seq 1 "$n"); do
    if pid=$(host_pid "$i"); then
      link=$(ip -br link show "veth-$NAME$i" 2>/dev/null | awk '{print $2}')
      sshd=down; rabbit=down
      timeout 1 bash -c "exec 3<>/dev/tcp/$(ip_of "$i")/22" 2>/dev/null && sshd=up
      for p in $(ip netns pids "$NAME$i" 2>/dev/null); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = beam.smp ] && rabbit=beam-running
      done
      echo "$NAME$i $(ip_of "$i") up (pid $pid) link=${link:-?} sshd=$sshd rabbit=$rabbit"
    else
      echo "$NAME$i $(ip_of "$i") crashed/off"
    fi
  done
}

crash() {   # power cut: SIGKILL the host's unshare; --kill-child and the PID ns take everything else
  local i=$1 pid init deadline=$((SECONDS + 15))
  pid=$(host_pid "$i") || { echo "$NAME$i is already off"; return 0; }
  init=$(host_init_pid "$i")
  # `down` waits until the machine's init has reaped these (see down, step 5)
  echo "$pid ${init:-}" >>"$STATE/killed"
  kill -KILL "$pid"
  until [ -z "$(ip netns pids "$NAME$i" 2>/dev/null)" ]; do
    [ $SECONDS -lt $deadline ] || die "$NAME$i: processes still alive after crash: $(ip netns pids "$NAME$i" | xargs)"
    sleep 0.05
  done
  rm -f "$STATE/$NAME$i.pid"
  echo "$NAME$i crashed"
}

boot() {   # start a crashed host again; its disks (cookie, mnesia, /etc changes) are kept
  local i=$1
  host_pid "$i" >/dev/null && die "$NAME$i is already running"
  [ -z "$(ip netns pids "$NAME$i" 2>/dev/null)" ] || die "$NAME$i: processes left in its netns"
  boot_host "$i"
  wait_ready "$i"
  echo "$NAME$i booted"
}

sshd_pids_cmd='for p in /proc/[0-9]*; do [ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/sshd ] && echo "${p#/proc/}"; done; true'

sshd_stop() {   # kill the listener and every session; RabbitMQ and the rest keep running
  local i=$1 deadline=$((SECONDS + 10)) pids
  host_init_pid "$i" >/dev/null || die "$NAME$i is not running (crashed? run: $0 boot $i)"
  pids=$(in_host "$i" bash -c "$sshd_pids_cmd")
  [ -z "$pids" ] || in_host "$i" kill -KILL $pids 2>/dev/null || true
  until [ -z "$(in_host "$i" bash -c "$sshd_pids_cmd")" ]; do
    [ $SECONDS -lt $deadline ] || die "$NAME$i: sshd still running"
    sleep 0.05
  done
  echo "$NAME$i: sshd stopped"
}

sshd_start() {
  local i=$1
  host_init_pid "$i" >/dev/null || die "$NAME$i is not running (crashed? run: $0 boot $i)"
  if in_host "$i" bash -c 'exec 3<>/dev/tcp/127.0.0.1/22' 2>/dev/null; then
    echo "$NAME$i: sshd already running"; return 0
  fi
  # setsid -f: sshd detaches and is re-parented to the host's init, like the one started at boot
  ( close_inherited_fds; in_host "$i" setsid -f /usr/sbin/sshd -D -e </dev/null >>"$HOSTS/$NAME$i/sshd.log" 2>&1 )
  wait_sshd "$i" $((SECONDS + ${LAB_SSH_TIMEOUT:-30}))
  echo "$NAME$i: sshd started"
}

locked() {   # serialise commands that change the lab (fd 9 is closed for every lab process)
  mkdir -p "$LAB_DIR"
  exec 9>"$LAB_DIR/.lock"
  flock -w 300 9 || die "another lab.sh holds $LAB_DIR/.lock"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; [ $# -gt 0 ] && shift
case $cmd in
  up)         locked; up "$@";;
  build)      [ $# -gt 0 ] || die "usage: $0 build SUITE..."
              for s in "$@"; do valid_release "$s" && [ "$s" != machine ] || die "not a Debian release the lab builds: $s"; done
              for s in "$@"; do ensure_tree "$s" & done; wait_all;;
  __build-tree) build_tree "$1";;
  down)       locked; down;;
  status)     status;;
  boot)       locked; check_index "${1:-}"; boot "$1";;
  crash)      locked; check_index "${1:-}"; crash "$1";;
  isolate)    check_index "${1:-}"; ip link set "veth-$NAME$1" down; echo "$NAME$1 isolated";;
  heal)       check_index "${1:-}"; ip link set "veth-$NAME$1" up; echo "$NAME$1 healed";;
  exec)       check_index "${1:-}"; i=$1; shift; [ $# -gt 0 ] || die "usage: $0 exec I CMD..."
              pid=$(host_init_pid "$i") || die "$NAME$i is not running (crashed? run: $0 boot $i)"
              exec nsenter -t "$pid" -a -r -w -- env -i PATH="$HOST_PATH" HOME=/root USER=root LOGNAME=root \
                SHELL=/bin/bash LANG=C.UTF-8 TERM=dumb "$@";;
  ssh)        check_index "${1:-}"; i=$1; shift; exec ssh "${SSH_OPTS[@]}" "root@$(ip_of "$i")" "$@";;
  sshd-stop)  locked; check_index "${1:-}"; sshd_stop "$1";;
  sshd-start) locked; check_index "${1:-}"; sshd_start "$1";;
  *)          usage;;
esac
