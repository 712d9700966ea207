import { createHash } from 'node:crypto';
/**
 * The exact command texts the step tests expect on a host, written out by hand (not built with
 * src/rabbit/commands.ts), so a change to what reaches a RabbitMQ host fails a test. When a command
 * changes on purpose, change it here once.
 */

/** Exits 69 without starting the CLI when no Erlang VM runs. */
const NO_VM_GUARD = 'if command -v pgrep >/dev/null && ! pgrep -x beam.smp >/dev/null; then exit 69; fi;';

/** Runs the quoted script as the rabbitmq account (every file operation in /var/lib/rabbitmq). */
const AS_RABBITMQ = 'runuser -u rabbitmq -- sh -c ';

/**
 * Stages the cookie from stdin under a fresh mktemp name, checks its hash (exit 75 on mismatch), 0400; quoted for
 * AS_RABBITMQ.
 */
function stageCookie(sha256: string): string {
  return (
    `umask 077 && tmp=$(mktemp ` +
    `/var/lib/rabbitmq/.erlang.cookie.XXXXXXXXXX) && { { base64 -d > ` +
    `"$tmp" && printf '\\''%s  %s\\n'\\'' ${sha256} "$tmp" | sha256sum -c ` +
    `--status; } || { rm -f "$tmp"; echo "the cookie received does not ` +
    `match the seed'\\''s (input cut short?): nothing was changed" >&2; ` +
    `exit 75; }; } && chmod 0400 "$tmp"`
  );
}

/** SIGTERM, then SIGKILL, to the rabbitmq account's beam.smp; waits for it and epmd. */
const STOP_VM =
  'if pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1; then echo "stopping ' +
  "the Erlang VM without the CLI (signals to the rabbitmq account's " +
  'beam.smp)" >&2; pkill -TERM -u rabbitmq -x beam.smp; i=0; while pgrep ' +
  '-u rabbitmq -x beam.smp >/dev/null 2>&1; do i=$((i + 1)); if [ "$i" ' +
  '-eq 60 ]; then pkill -KILL -u rabbitmq -x beam.smp; fi; if [ "$i" -ge ' +
  '100 ]; then echo "the Erlang VM did not stop" >&2; exit 70; fi; sleep ' +
  '0.5; done; i=0; while command -v epmd >/dev/null && epmd -names ' +
  '2>/dev/null | grep -q \'^name rabbit \'; do i=$((i + 1)); if [ "$i" ' +
  '-ge 20 ]; then break; fi; sleep 0.5; done; fi';

/** sha256 of a cookie's text, as the cookie step puts it in the command. */
export function cookieSha256(cookie: string): string {
  return createHash('sha256').update(cookie, 'utf8').digest('hex');
}

export const CMD = {
  probe: (peers: string): string =>
    `echo hostname=$(hostname -s); echo init=$(cat /proc/1/comm ` +
    `2>/dev/null); echo rabbitmq=$(dpkg-query -W ` +
    `-f='\${Status}|\${Version}' rabbitmq-server 2>/dev/null); echo ` +
    `erlang=$(dpkg-query -W -f='\${Version}' erlang-base 2>/dev/null); ` +
    `echo nodename=$(runuser -u rabbitmq -- sh -c ` +
    `'f=/etc/rabbitmq/rabbitmq-env.conf; [ -r "$f" ] && . "$f" >/dev/null ` +
    `2>&1; echo "\${RABBITMQ_NODENAME:-$NODENAME}"' 2>/dev/null ` +
    `</dev/null); for peer in ${peers}; do if getent hosts "$peer" ` +
    `>/dev/null; then echo "resolves=$peer"; else echo "unresolved=$peer"; ` +
    `fi; done`,
  aptInstall:
    'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -o ' +
    'Dpkg::Options::=--force-confold install -y -q --no-install-recommends ' +
    'rabbitmq-server',
  aptUpdate: 'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update -q',
  packageStatus: "dpkg-query -W -f='${Status}|${Version}' rabbitmq-server 2>/dev/null || true",
  checkRunning: `${NO_VM_GUARD} rabbitmq-diagnostics -q check_running </dev/null`,
  /** start_app on a live VM whose app is stopped, else the service (a stopped app makes the init script fail). */
  sysvStart:
    `if pgrep -x beam.smp >/dev/null 2>&1 && rabbitmqctl -q ping ` +
    `</dev/null >/dev/null 2>&1; then rabbitmqctl -q start_app </dev/null; ` +
    `else ${STOP_VM} && service rabbitmq-server start; fi`,
  systemdStart:
    `if pgrep -x beam.smp >/dev/null 2>&1 && rabbitmqctl -q ping ` +
    `</dev/null >/dev/null 2>&1; then rabbitmqctl -q start_app </dev/null; ` +
    `else ${STOP_VM} && systemctl start rabbitmq-server; fi`,
  /** Stops a VM that refuses the CLI with signals (a no-op without one). */
  stopVm: STOP_VM,
  waitRunning:
    'end=$(( $(date +%s) + 150 )); until rabbitmqctl -q await_startup ' +
    '--timeout 150 </dev/null >/dev/null 2>&1; do if [ "$(date +%s)" -ge ' +
    '"$end" ]; then echo "rabbit did not start within 150 s" >&2; exit 75; ' +
    'fi; sleep 0.5; done',
  cookieHash: `${AS_RABBITMQ}'sha256sum /var/lib/rabbitmq/.erlang.cookie | cut -d'\\'' '\\'' -f1'`,
  readCookie:
    `${AS_RABBITMQ}'if [ -L /var/lib/rabbitmq/.erlang.cookie ] || { [ -e ` +
    `/var/lib/rabbitmq/.erlang.cookie ] && [ ! -f ` +
    `/var/lib/rabbitmq/.erlang.cookie ]; }; then echo ` +
    `'\\''/var/lib/rabbitmq/.erlang.cookie is not a regular file'\\'' >&2; ` +
    `exit 77; fi; base64 -w0 /var/lib/rabbitmq/.erlang.cookie'`,
  shutdown: 'rabbitmqctl -q shutdown </dev/null',
  /** The cookie write, for the seed cookie's sha256 (or the dry run's placeholder). */
  writeCookie: (sha256: string): string =>
    `${AS_RABBITMQ}'${stageCookie(sha256)} && mv -fT "$tmp" /var/lib/rabbitmq/.erlang.cookie'`,
  switchCookieLive: (sha256: string): string =>
    `trap '' HUP; tmp=$(${AS_RABBITMQ}'${stageCookie(sha256)} && echo ` +
    `"$tmp"') && case "$tmp" in ` +
    `/var/lib/rabbitmq/.erlang.cookie.??????????) ;; *) exit 70;; esac && ` +
    `{ rabbitmqctl -q eval "{ok, C} = file:read_file(\\"$tmp\\"), ` +
    `erlang:set_cookie(node(), binary_to_atom(string:trim(C), utf8)), ok." ` +
    `</dev/null && ${AS_RABBITMQ}'mv -fT "$1" ` +
    `/var/lib/rabbitmq/.erlang.cookie' sh "$tmp" || { rc=$?; runuser -u ` +
    `rabbitmq -- rm -f -- "$tmp"; exit $rc; }; }`,
  clusterStatus: `${NO_VM_GUARD} rabbitmqctl cluster_status --formatter json </dev/null`,
  listVhosts: 'rabbitmqctl -q list_vhosts --formatter json name </dev/null',
  listQueues: (vhost: string): string =>
    `runuser -u rabbitmq -- rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name </dev/null`,
  stopApp: 'rabbitmqctl -q stop_app </dev/null',
  joinSeed: 'rabbitmqctl -q join_cluster rabbit@lab1 </dev/null',
  startApp: 'rabbitmqctl -q start_app </dev/null',
  listPolicies: 'runuser -u rabbitmq -- rabbitmqctl -q list_policies --formatter json --vhost / </dev/null',
  setRunbookPolicy: `rabbitmqctl -q set_policy ha-all '^(?!amq\\.).*' '{"ha-mode":"all"}' </dev/null`,
  listVhostQueueTypes: 'rabbitmqctl -q list_vhosts --formatter json name default_queue_type </dev/null',
  setDefaultQuorum: (vhost: string): string =>
    `runuser -u rabbitmq -- rabbitmqctl -q update_vhost_metadata ${vhost} --default-queue-type quorum </dev/null`,
  metadataStoreStatus: 'rabbitmq-diagnostics -q metadata_store_status --formatter json </dev/null',
  listQueueMembers: (vhost: string): string =>
    `runuser -u rabbitmq -- rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name type members </dev/null`,
  shrink: (node: string): string => `rabbitmq-queues -q shrink ${node} </dev/null`,
  deleteMember: (vhost: string, queue: string, node: string): string =>
    `runuser -u rabbitmq -- rabbitmq-queues -q delete_member --vhost ${vhost} ${queue} ${node} </dev/null`,
  grow: (node: string): string => `rabbitmq-queues -q grow ${node} all </dev/null`,
  listFeatureFlags: `${NO_VM_GUARD} rabbitmqctl -q list_feature_flags --formatter json name state stability </dev/null`,
  enableAllFeatureFlags: 'rabbitmqctl -q enable_feature_flag all </dev/null',
  enableFeatureFlag: (flag: string): string => `rabbitmqctl -q enable_feature_flag ${flag} </dev/null`,
} as const;
