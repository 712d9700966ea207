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
# host).
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
  nsenter -t "$pid" -a -- env -i PATH="$HOST_PATH" HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
    LANG=C.UTF-8 TERM=dumb "$@"
}

# ---------------------------------------------------------------------------------------------------
write_host_files() {   # $1 = index; everything a host needs on disk before it boots
  local i=$1 h=$NAME$1 d=$HOSTS/$NAME$1 f j
  mkdir -p "$d"/{etc.upper/ssh,etc.upper/apt/sources.list.d,etc.work,varlib/mnesia,varlog,root/.ssh,tmp}
  chmod 1777 "$d/tmp"; chmod 700 "$d/root" "$d/root/.ssh"

  # network identity: own hostname, every lab host resolvable by name
  echo "$h" > "$d/etc.upper/hostname"
  {
    echo "127.0.0.1 localhost"
    echo "::1 localhost ip6-localhost ip6-loopback"
    echo "ff02::1 ip6-allnodes"
    echo "ff02::2 ip6-allrouters"
    echo
    for j in $(seq 1 "$N"); do echo "$(ip_of "$j") $NAME$j"; done
  } > "$d/etc.upper/hosts"

  # sshd: own host key, root login with the lab client key only
  ssh-keygen -q -t ed25519 -N '' -C "root@$h" -f "$d/etc.upper/ssh/ssh_host_ed25519_key"
  cat > "$d/etc.upper/ssh/sshd_config" <<EOF
# lab host $h (written by warren's test/lab/lab.sh)
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
EOF
  chmod 600 "$d/etc.upper/ssh/ssh_host_ed25519_key"
  cp "$KEYS/client_ed25519.pub" "$d/root/.ssh/authorized_keys"; chmod 600 "$d/root/.ssh/authorized_keys"
  for f in profile bashrc; do   # what a fresh Debian root has
    [ -e "/usr/share/base-files/dot.$f" ] && cp "/usr/share/base-files/dot.$f" "$d/root/.$f"
  done
  echo "$(ip_of "$i"),$h $(cut -d' ' -f1,2 "$d/etc.upper/ssh/ssh_host_ed25519_key.pub")" >> "$KEYS/known_hosts"

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

  echo "$START_RABBIT" > "$d/start-rabbit"
}

boot_host() {   # start host I's PID 1 in the background; netns and files must exist
  local h=$NAME$1 d=$HOSTS/$NAME$1
  rm -f "$d/rabbit.status"
  # setsid: detached from the caller's session/process group (a ^C in a test run does not power
  # off the lab by accident). env -i: the host does not inherit the caller's environment.
  # `ip netns exec` execs unshare in the same PID: $! is the unshare. --kill-child: if that PID
  # dies, the host's PID 1 gets SIGKILL and with it the kernel kills everything in the PID ns.
  setsid env -i PATH="$HOST_PATH" LANG=C.UTF-8 HOME=/root TERM=dumb \
    ip netns exec "$h" unshare --uts --ipc --mount --propagation private --pid --fork --mount-proc \
      --kill-child=SIGKILL "$INIT" "$h" "$d" </dev/null >>"$d/init.log" 2>&1 9>&- &
  echo $! > "$STATE/$h.pid"
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
    [ $SECONDS -lt "$2" ] || { echo "$NAME$i: rabbitmq-server not started in time:" >&2; tail -n 20 "$HOSTS/$NAME$i/varlog/rabbit@$NAME$i.log" >&2 2>/dev/null; return 1; }
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
    echo "# warren config for the test lab, written by test/lab/lab.sh up (removed by down)"
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
      echo "    hostKey: \"$(cut -d' ' -f1,2 "$HOSTS/$NAME$i/etc.upper/ssh/ssh_host_ed25519_key.pub")\""
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
  local t0 i; t0=$(now_ms)
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
  echo "lab up: $N host$( [ "$N" = 1 ] || echo s) ($( [ "$START_RABBIT" = 1 ] && echo "rabbitmq running" || echo "rabbitmq stopped")) in $(elapsed "$t0")"
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
  in_host "$i" setsid -f /usr/sbin/sshd -D -e </dev/null >>"$HOSTS/$NAME$i/sshd.log" 2>&1 9>&-
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
  down)       locked; down;;
  status)     status;;
  boot)       locked; check_index "${1:-}"; boot "$1";;
  crash)      locked; check_index "${1:-}"; crash "$1";;
  isolate)    check_index "${1:-}"; ip link set "veth-$NAME$1" down; echo "$NAME$1 isolated";;
  heal)       check_index "${1:-}"; ip link set "veth-$NAME$1" up; echo "$NAME$1 healed";;
  exec)       check_index "${1:-}"; i=$1; shift; [ $# -gt 0 ] || die "usage: $0 exec I CMD..."
              pid=$(host_init_pid "$i") || die "$NAME$i is not running (crashed? run: $0 boot $i)"
              exec nsenter -t "$pid" -a -- env -i PATH="$HOST_PATH" HOME=/root USER=root LOGNAME=root \
                SHELL=/bin/bash LANG=C.UTF-8 TERM=dumb "$@";;
  ssh)        check_index "${1:-}"; i=$1; shift; exec ssh "${SSH_OPTS[@]}" "root@$(ip_of "$i")" "$@";;
  sshd-stop)  locked; check_index "${1:-}"; sshd_stop "$1";;
  sshd-start) locked; check_index "${1:-}"; sshd_start "$1";;
  *)          usage;;
esac
