import { createHash } from 'node:crypto';
/**
 * The exact command texts the step tests expect on a host, written out by hand (not built with
 * src/rabbit/commands.ts), so a change to what reaches a RabbitMQ host fails a test. When a command
 * changes on purpose, change it here once.
 */

/** Exits 69 without starting the CLI when no Erlang VM runs. */
const NO_VM_GUARD = 'if command -v pgrep >/dev/null && ! pgrep -x beam.smp >/dev/null; then exit 69; fi;';

const COOKIE_TMP = '/var/lib/rabbitmq/.erlang.cookie.warren-new';

/** The hash check every cookie write makes before installing anything (exit 75 on mismatch). */
function verifyCookie(sha256: string): string {
  return `printf '%s  %s\\n' ${sha256} ${COOKIE_TMP} | sha256sum -c --status || { rm -f ${COOKIE_TMP}; echo "the cookie received does not match the seed's (input cut short?): nothing was changed" >&2; exit 75; }`;
}

/** sha256 of a cookie's text, as the cookie step puts it in the command. */
export function cookieSha256(cookie: string): string {
  return createHash('sha256').update(cookie, 'utf8').digest('hex');
}

export const CMD = {
  probe: (peers: string): string =>
    `echo hostname=$(hostname -s); echo init=$(cat /proc/1/comm 2>/dev/null); echo rabbitmq=$(dpkg-query -W -f='\${Status}|\${Version}' rabbitmq-server 2>/dev/null); echo erlang=$(dpkg-query -W -f='\${Version}' erlang-base 2>/dev/null); for peer in ${peers}; do if getent hosts "$peer" >/dev/null; then echo "resolves=$peer"; else echo "unresolved=$peer"; fi; done`,
  aptInstall: 'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confold install -y -q --no-install-recommends rabbitmq-server',
  aptUpdate: 'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update -q',
  packageStatus: "dpkg-query -W -f='${Status}|${Version}' rabbitmq-server 2>/dev/null || true",
  checkRunning: `${NO_VM_GUARD} rabbitmq-diagnostics -q check_running </dev/null`,
  /** start_app on a live VM whose app is stopped, else the service (a stopped app makes the init script fail). */
  sysvStart:
    'if pgrep -x beam.smp >/dev/null 2>&1 && rabbitmqctl -q ping </dev/null >/dev/null 2>&1; then rabbitmqctl -q start_app </dev/null; else service rabbitmq-server start; fi',
  systemdStart:
    'if pgrep -x beam.smp >/dev/null 2>&1 && rabbitmqctl -q ping </dev/null >/dev/null 2>&1; then rabbitmqctl -q start_app </dev/null; else systemctl start rabbitmq-server; fi',
  waitRunning:
    'end=$(( $(date +%s) + 150 )); until rabbitmqctl -q await_startup --timeout 150 </dev/null >/dev/null 2>&1; do if [ "$(date +%s)" -ge "$end" ]; then echo "rabbit did not start within 150 s" >&2; exit 75; fi; sleep 0.5; done',
  cookieHash: "sha256sum /var/lib/rabbitmq/.erlang.cookie | cut -d' ' -f1",
  readCookie: 'base64 -w0 /var/lib/rabbitmq/.erlang.cookie',
  shutdown: 'rabbitmqctl -q shutdown </dev/null',
  /** The cookie write, for the seed cookie's sha256 (or the dry run's placeholder). */
  writeCookie: (sha256: string): string =>
    `umask 077 && base64 -d > TMP && ${verifyCookie(sha256)} && chown rabbitmq:rabbitmq TMP && chmod 0400 TMP && mv -f TMP /var/lib/rabbitmq/.erlang.cookie`.replaceAll('TMP', COOKIE_TMP),
  switchCookieLive: (sha256: string): string =>
    `trap '' HUP; umask 077 && base64 -d > TMP && ${verifyCookie(sha256)} && chown rabbitmq:rabbitmq TMP && chmod 0400 TMP && rabbitmqctl -q eval '{ok, C} = file:read_file("TMP"), erlang:set_cookie(node(), binary_to_atom(string:trim(C), utf8)), ok.' </dev/null && mv -f TMP /var/lib/rabbitmq/.erlang.cookie`.replaceAll('TMP', COOKIE_TMP),
  clusterStatus: `${NO_VM_GUARD} rabbitmqctl cluster_status --formatter json </dev/null`,
  listVhosts: 'rabbitmqctl -q list_vhosts --formatter json name </dev/null',
  listQueues: (vhost: string): string => `rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name </dev/null`,
  stopApp: 'rabbitmqctl -q stop_app </dev/null',
  joinSeed: 'rabbitmqctl -q join_cluster rabbit@lab1 </dev/null',
  startApp: 'rabbitmqctl -q start_app </dev/null',
  listPolicies: 'rabbitmqctl -q list_policies --formatter json --vhost / </dev/null',
  setRunbookPolicy: `rabbitmqctl -q set_policy ha-all '^(?!amq\\.).*' '{"ha-mode":"all"}' </dev/null`,
  listVhostQueueTypes: 'rabbitmqctl -q list_vhosts --formatter json name default_queue_type </dev/null',
  setDefaultQuorum: (vhost: string): string => `rabbitmqctl -q update_vhost_metadata ${vhost} --default-queue-type quorum </dev/null`,
  metadataStoreStatus: 'rabbitmq-diagnostics -q metadata_store_status --formatter json </dev/null',
  listQueueMembers: (vhost: string): string => `rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name type members </dev/null`,
  shrink: (node: string): string => `rabbitmq-queues -q shrink ${node} </dev/null`,
  deleteMember: (vhost: string, queue: string, node: string): string => `rabbitmq-queues -q delete_member --vhost ${vhost} ${queue} ${node} </dev/null`,
  grow: (node: string): string => `rabbitmq-queues -q grow ${node} all </dev/null`,
} as const;
