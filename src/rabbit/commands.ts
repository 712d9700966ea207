import { sh } from '../ssh/quote.js';
import type { ShellCommand } from '../ssh/quote.js';

/**
 * Every command warren sends to a RabbitMQ host, built in one place. rabbitmqctl swallows stdin,
 * so each invocation reads /dev/null; judged by exit code, since it warns on stderr while succeeding.
 */

export const COOKIE_PATH = '/var/lib/rabbitmq/.erlang.cookie';
const COOKIE_TMP = '/var/lib/rabbitmq/.erlang.cookie.warren-new';

export type ServiceManager = 'systemd' | 'sysv';

/** Exit 69 without starting the CLI when no Erlang VM runs (hosts without pgrep just ask the CLI). */
const NO_VM_EXITS_69 = sh`if command -v pgrep >/dev/null && ! pgrep -x beam.smp >/dev/null; then exit 69; fi;`;

/**
 * One round trip that tells preflight what it needs: short hostname, init system, package state,
 * Erlang version, and whether each peer resolves. Output is `key=value` lines (parsed with zod).
 */
export function probeHostCommand(peers: readonly string[]): ShellCommand {
  return sh`echo hostname=$(hostname -s); echo init=$(cat /proc/1/comm 2>/dev/null); echo rabbitmq=$(dpkg-query -W -f='\${Status}|\${Version}' rabbitmq-server 2>/dev/null); echo erlang=$(dpkg-query -W -f='\${Version}' erlang-base 2>/dev/null); for peer in ${peers}; do if getent hosts "$peer" >/dev/null; then echo "resolves=$peer"; else echo "unresolved=$peer"; fi; done`.named('preflight probe');
}

export function packageStatusCommand(): ShellCommand {
  return sh`dpkg-query -W -f='\${Status}|\${Version}' rabbitmq-server 2>/dev/null || true`;
}

/** apt-get install, non-interactive; the dpkg lock wait lets installs on hosts that share dpkg line up. */
export function aptInstallCommand(version?: string): ShellCommand {
  const pkg = version ? `rabbitmq-server=${version}` : 'rabbitmq-server';
  return sh`DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confold install -y -q --no-install-recommends ${pkg}`;
}

export function aptUpdateCommand(): ShellCommand {
  return sh`DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update -q`;
}

/**
 * Is the RabbitMQ app running? A host with no Erlang VM at all answers at once without starting
 * the CLI (each rabbitmqctl costs ~0.5 s of CPU); exit 69 means not running, as the CLI says.
 */
export function checkRunningCommand(): ShellCommand {
  return sh`${NO_VM_EXITS_69} rabbitmq-diagnostics -q check_running </dev/null`.named('rabbitmq-diagnostics check_running');
}

/**
 * Starts RabbitMQ. A VM that runs with its app stopped (a worker died between stop_app and
 * start_app) only needs start_app: the service would say "already running" and leave it down.
 */
export function serviceStartCommand(manager: ServiceManager): ShellCommand {
  const service = manager === 'systemd' ? sh`systemctl start rabbitmq-server` : sh`service rabbitmq-server start`;
  return sh`if pgrep -x beam.smp >/dev/null 2>&1 && rabbitmqctl -q ping </dev/null >/dev/null 2>&1; then rabbitmqctl -q start_app </dev/null; else ${service}; fi`.named(`${service.text} (or start_app)`);
}

/**
 * Waits until the app runs. `await_startup` fails at once when the VM has not registered with
 * epmd yet, so it is retried until the deadline; exit 75 (tempfail) when the deadline passes.
 */
export function waitRunningCommand(deadlineSeconds: number): ShellCommand {
  return sh`end=$(( $(date +%s) + ${deadlineSeconds} )); until rabbitmqctl -q await_startup --timeout ${deadlineSeconds} </dev/null >/dev/null 2>&1; do if [ "$(date +%s)" -ge "$end" ]; then echo "rabbit did not start within ${deadlineSeconds} s" >&2; exit 75; fi; sleep 0.5; done`.named('rabbitmqctl await_startup');
}

/**
 * Stops the Erlang VM whatever started it. Exit 69 means it was not running, which is what we want.
 * `service … stop` is not used: after a cookie change it claims "already stopped" while beam runs.
 */
export function shutdownCommand(): ShellCommand {
  return sh`rabbitmqctl -q shutdown </dev/null`;
}

export function cookieHashCommand(): ShellCommand {
  return sh`sha256sum ${COOKIE_PATH} | cut -d' ' -f1`;
}

/** The seed's cookie as base64, so the exact bytes survive the trip; the caller must never log it. */
export function readCookieCommand(): ShellCommand {
  return sh`base64 -w0 ${COOKIE_PATH}`;
}

/** Placeholder the dry run shows where a real run puts the seed cookie's sha256. */
export const SEED_COOKIE_SHA256 = 'SEED_COOKIE_SHA256';

/**
 * Checks the decoded cookie against the seed's sha256 before anything is installed: a worker that
 * dies before stdin is sent leaves `base64 -d` with empty input, and an empty cookie must never
 * replace a real one. Exit 75 (tempfail): the job's retry sends it again.
 */
function verifiedCookieTmp(expectedSha256: string) {
  return sh`printf '%s  %s\\n' ${expectedSha256} ${COOKIE_TMP} | sha256sum -c --status || { rm -f ${COOKIE_TMP}; echo "the cookie received does not match the seed's (input cut short?): nothing was changed" >&2; exit 75; }`;
}

/**
 * Writes the cookie from stdin (base64) with umask 077, owner rabbitmq, mode 0400, replacing the
 * old one atomically once its hash matches the seed's. The cookie is on stdin only: never in the
 * command line, never in `ps` (its sha256 is, and says nothing of a random cookie).
 */
export function writeCookieCommand(expectedSha256: string): ShellCommand {
  return sh`umask 077 && base64 -d > ${COOKIE_TMP} && ${verifiedCookieTmp(expectedSha256)} && chown rabbitmq:rabbitmq ${COOKIE_TMP} && chmod 0400 ${COOKIE_TMP} && mv -f ${COOKIE_TMP} ${COOKIE_PATH}`.named('cookie write');
}

/**
 * Switches a running node to the cookie on stdin without a restart: the VM takes the new cookie
 * (erlang:set_cookie, read from a 0400 file so the secret is never in a command line), and only
 * then is the file renamed over the old one, so the CLI and the VM never disagree. One shell,
 * immune to SIGHUP, so a dropped SSH session cannot stop it between the two; nothing happens
 * unless the decoded cookie's hash is the seed's.
 */
export function switchCookieLiveCommand(expectedSha256: string): ShellCommand {
  const setCookie = `{ok, C} = file:read_file("${COOKIE_TMP}"), erlang:set_cookie(node(), binary_to_atom(string:trim(C), utf8)), ok.`;
  return sh`trap '' HUP; umask 077 && base64 -d > ${COOKIE_TMP} && ${verifiedCookieTmp(expectedSha256)} && chown rabbitmq:rabbitmq ${COOKIE_TMP} && chmod 0400 ${COOKIE_TMP} && rabbitmqctl -q eval ${setCookie} </dev/null && mv -f ${COOKIE_TMP} ${COOKIE_PATH}`.named('live cookie switch (rabbitmqctl eval)');
}

/** cluster_status of the local node; exit 69 (the CLI's "node down") at once when no VM runs. */
export function clusterStatusCommand(): ShellCommand {
  return sh`${NO_VM_EXITS_69} rabbitmqctl cluster_status --formatter json </dev/null`.named('rabbitmqctl cluster_status');
}

export function stopAppCommand(): ShellCommand {
  return sh`rabbitmqctl -q stop_app </dev/null`;
}

export function joinClusterCommand(seedNode: string): ShellCommand {
  return sh`rabbitmqctl -q join_cluster ${seedNode} </dev/null`;
}

export function startAppCommand(): ShellCommand {
  return sh`rabbitmqctl -q start_app </dev/null`;
}

export function listVhostsCommand(): ShellCommand {
  return sh`rabbitmqctl -q list_vhosts --formatter json name </dev/null`;
}

export function listQueuesCommand(vhost: string): ShellCommand {
  return sh`rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name </dev/null`;
}

export function listPoliciesCommand(vhost = '/'): ShellCommand {
  return sh`rabbitmqctl -q list_policies --formatter json --vhost ${vhost} </dev/null`;
}

export const HA_POLICY_NAME = 'ha-all';
export const HA_POLICY_DEFINITION = '{"ha-mode":"all"}';

export function setHaPolicyCommand(pattern: string): ShellCommand {
  return sh`rabbitmqctl -q set_policy ${HA_POLICY_NAME} ${pattern} ${HA_POLICY_DEFINITION} </dev/null`;
}

export function listVhostQueueTypesCommand(): ShellCommand {
  return sh`rabbitmqctl -q list_vhosts --formatter json name default_queue_type </dev/null`;
}

export function setDefaultQueueTypeCommand(vhost: string, queueType: 'quorum'): ShellCommand {
  return sh`rabbitmqctl -q update_vhost_metadata ${vhost} --default-queue-type ${queueType} </dev/null`;
}

/**
 * Would stopping this node cost a quorum queue its quorum? Measured on 3.10.8: exit 0 and
 * `{"result":"ok"}` when not; exit 69 with `{"result":"error","queues":[{"readable_name":…}]…}` on
 * stderr when it is (69 is also "node down", so the JSON decides); exit 64 when the app is stopped.
 * The command exists from 3.8.
 */
export function quorumCriticalCommand(): ShellCommand {
  return sh`${NO_VM_EXITS_69} rabbitmq-diagnostics -q check_if_node_is_quorum_critical --formatter json </dev/null`.named('rabbitmq-diagnostics check_if_node_is_quorum_critical');
}

/**
 * Wipes the node: its queues, users, vhosts and membership. Needs the app stopped (exit 64
 * otherwise). Measured on 3.10.8: on a clustered node whose peers run, exit 0 in ~0.6–9 s and the
 * peers' cluster_status no longer lists it (the node leaves the cluster itself); on a node that
 * was already forgotten by its peers, exit 0; on the last running member of a cluster whose other
 * members are stopped, exit 69 `{:no_running_cluster_nodes, 'You cannot leave a cluster if no
 * online nodes are present.'}` and nothing changes; with no VM, exit 69.
 */
export function resetCommand(): ShellCommand {
  return sh`rabbitmqctl -q reset </dev/null`;
}

/**
 * Removes a stopped node from the cluster, run on a running peer. Measured on 3.10.8: exit 0 when
 * the node's app is stopped or its VM is down; exit 69 "RabbitMQ on node … must be stopped … before
 * it can be removed" while its app runs; exit 69 `{:not_a_cluster_node, 'The node selected is not
 * in the cluster.'}` when it was already forgotten (so 69 alone does not mean "unreachable").
 */
export function forgetClusterNodeCommand(nodeName: string): ShellCommand {
  return sh`rabbitmqctl -q forget_cluster_node ${nodeName} </dev/null`;
}

/** forget_cluster_node's answer when the node was already forgotten (exit 69, measured on 3.10.8). */
export const NOT_A_CLUSTER_NODE = /not_a_cluster_node/;

/** Debian's data directory of a node (RABBITMQ_MNESIA_BASE/<node>), and its feature-flags file. */
export function nodeDataPaths(nodeName: string): [string, string] {
  return [`/var/lib/rabbitmq/mnesia/${nodeName}`, `/var/lib/rabbitmq/mnesia/${nodeName}-feature_flags`];
}

/** Prints `data` when the node's data directory holds anything, else `blank` (reset empties it). */
export function nodeDataStateCommand(nodeName: string): ShellCommand {
  const [dir] = nodeDataPaths(nodeName);
  return sh`if [ -d ${dir} ] && [ -n "$(ls -A ${dir} 2>/dev/null)" ]; then echo data; else echo blank; fi`.named('data directory check');
}

/**
 * The offline equivalent of reset, for a node whose VM is down (rabbitmqctl reset needs a VM).
 * Measured on 3.10.8: a node forgotten while down fails its next start with `inconsistent_cluster`
 * ("thinks it's clustered with node rabbit@lab2, but rabbit@lab2 disagrees"); after removing these
 * two paths it starts as a blank single node. Refuses (exit 70) while a VM runs.
 */
export function wipeNodeDataCommand(nodeName: string): ShellCommand {
  const [dir, flags] = nodeDataPaths(nodeName);
  return sh`if pgrep -x beam.smp >/dev/null 2>&1; then echo "an Erlang VM runs: refusing to delete its data under it" >&2; exit 70; fi; rm -rf ${dir} ${flags}`.named('offline wipe of the node data');
}

/**
 * The node's feature flags, `[{"name","state","stability"}]`: whether it stores metadata in Khepri
 * (`khepri_db` enabled: always on 4.3, opt-in on 4.0, absent on 3.10) and which flags are not yet
 * enabled. Exit 69 at once when no VM runs. Measured on 3.10.8, 4.0.5 and 4.3.6.
 */
export function featureFlagsCommand(): ShellCommand {
  return sh`${NO_VM_EXITS_69} rabbitmqctl -q list_feature_flags --formatter json name state stability </dev/null`.named('rabbitmqctl list_feature_flags');
}

/**
 * A vhost's queues with their replicas: on 4.x `members` and `online` list a quorum queue's
 * replicas and those running (`online` is "" for a classic queue). Measured on 4.0.5 and 4.3.6.
 */
export function listQueueMembersCommand(vhost: string): ShellCommand {
  return sh`rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name type members online </dev/null`.named('rabbitmqctl list_queues members');
}
