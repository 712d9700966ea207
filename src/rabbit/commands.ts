import { ShellCommand, sh } from '../ssh/quote.js';

/**
 * Every command warren sends to a RabbitMQ host, built in one place. rabbitmqctl swallows stdin,
 * so each invocation reads /dev/null; judged by exit code, since it warns on stderr while succeeding.
 */

export const COOKIE_PATH = '/var/lib/rabbitmq/.erlang.cookie';
/**
 * mktemp's template for a staged cookie: a fresh unpredictable name beside the cookie (same file system, so the rename
 * is atomic).
 */
const COOKIE_TMP_TEMPLATE = '/var/lib/rabbitmq/.erlang.cookie.XXXXXXXXXX';

/**
 * Runs a file operation as the rabbitmq account. /var/lib/rabbitmq (and all under it) belongs to
 * that account, so a link it planted there could make root write, chown or read any file on the
 * host; run as the account itself, a link leads only where the account could already go.
 */
function asRabbitmq(command: ShellCommand): ShellCommand {
  return sh`runuser -u rabbitmq -- sh -c ${command.text}`;
}

/**
 * Runs a RabbitMQ CLI as the rabbitmq account: for every command that carries a name read from a
 * node (a vhost, a queue). Measured on 3.10.8, 4.0.5 and 4.3.6: Debian's rabbitmq-script-wrapper,
 * run as root, hands its arguments to `su -c "…"` inside double quotes with only `"` escaped, so a
 * `$(…)` or a backquote in a name is run by a second shell (a vhost named `$(touch /tmp/x)` runs it
 * on the node, and anyone allowed to create a vhost can name one). Run as rabbitmq, the wrapper
 * passes "$@" untouched: every argument arrives as quote() sent it.
 */
export const AS_RABBITMQ = sh`runuser -u rabbitmq --`;

/** Exit code of a cookie read refused because the cookie is a link or not a regular file. */
export const COOKIE_NOT_REGULAR_EXIT = 77;

export type ServiceManager = 'systemd' | 'sysv';

/** Exit 69 without starting the CLI when no Erlang VM runs (hosts without pgrep just ask the CLI). */
const NO_VM_EXITS_69 = sh`if command -v pgrep >/dev/null && ! pgrep -x beam.smp >/dev/null; then exit 69; fi;`;

/** Where Debian's RabbitMQ reads NODENAME (or RABBITMQ_NODENAME) from. */
export const RABBITMQ_ENV_CONF = '/etc/rabbitmq/rabbitmq-env.conf';

/**
 * Prints `nodename=` and the node name rabbitmq-env.conf sets, if any. The file is a shell
 * fragment RabbitMQ sources as the rabbitmq account; it is sourced here as that account too (it
 * is often owned by it: root never runs what it wrote).
 */
function configuredNodeNameProbe(): ShellCommand {
  const read = sh`f=${RABBITMQ_ENV_CONF}; [ -r "$f" ] && . "$f" >/dev/null 2>&1; echo "\${RABBITMQ_NODENAME:-\$NODENAME}"`;
  return sh`echo nodename=$(runuser -u rabbitmq -- sh -c ${read.text} 2>/dev/null </dev/null);`;
}

/**
 * One round trip that tells preflight what it needs: short hostname, init system, package state,
 * Erlang version, the node name rabbitmq-env.conf sets, and whether each peer resolves. Output is `key=value` lines
 * (parsed with zod).
 */
export function probeHostCommand(peers: readonly string[]): ShellCommand {
  return sh`echo hostname=$(hostname -s); echo init=$(cat /proc/1/comm 2>/dev/null); echo rabbitmq=$(dpkg-query -W -f='\${Status}|\${Version}' rabbitmq-server 2>/dev/null); echo erlang=$(dpkg-query -W -f='\${Version}' erlang-base 2>/dev/null); ${configuredNodeNameProbe()} for peer in ${peers}; do if getent hosts "$peer" >/dev/null; then echo "resolves=$peer"; else echo "unresolved=$peer"; fi; done`.named(
    'preflight probe',
  );
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
  return sh`${NO_VM_EXITS_69} rabbitmq-diagnostics -q check_running </dev/null`.named(
    'rabbitmq-diagnostics check_running',
  );
}

/**
 * Stops the rabbitmq account's Erlang VMs without the CLI, for a VM that refuses it (its cookie
 * file was rewritten under it: the CLI reads the new cookie, the VM kept the old). SIGTERM (the VM
 * stops cleanly, as `init:stop()`), SIGKILL after 30 s, then waits until none is left and epmd
 * has let the node name go, so a start that follows cannot run a second VM beside the first.
 * Only processes of the rabbitmq account are signalled (a pid file in its directory could name
 * any process). A no-op when no such VM runs; exit 70 if one survives SIGKILL for 20 s.
 */
export function stopVmWithoutCliCommand(): ShellCommand {
  return sh`if pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1; then echo "stopping the Erlang VM without the CLI (signals to the rabbitmq account's beam.smp)" >&2; pkill -TERM -u rabbitmq -x beam.smp; i=0; while pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1; do i=$((i + 1)); if [ "$i" -eq 60 ]; then pkill -KILL -u rabbitmq -x beam.smp; fi; if [ "$i" -ge 100 ]; then echo "the Erlang VM did not stop" >&2; exit 70; fi; sleep 0.5; done; i=0; while command -v epmd >/dev/null && epmd -names 2>/dev/null | grep -q '^name rabbit '; do i=$((i + 1)); if [ "$i" -ge 20 ]; then break; fi; sleep 0.5; done; fi`.named(
    'stop the Erlang VM without the CLI',
  );
}

/**
 * Starts RabbitMQ. A VM that runs with its app stopped (a worker died between stop_app and
 * start_app) only needs start_app: the service would say "already running" and leave it down. A
 * VM that runs but refuses the CLI (the stale-cookie trap) is stopped without the CLI first: the
 * service would start a second VM beside it, which hangs on the taken distribution port.
 */
export function serviceStartCommand(manager: ServiceManager): ShellCommand {
  const service = manager === 'systemd' ? sh`systemctl start rabbitmq-server` : sh`service rabbitmq-server start`;
  return sh`if pgrep -x beam.smp >/dev/null 2>&1 && rabbitmqctl -q ping </dev/null >/dev/null 2>&1; then rabbitmqctl -q start_app </dev/null; else ${stopVmWithoutCliCommand()} && ${service}; fi`.named(
    `${service.text} (or start_app)`,
  );
}

/**
 * Waits until the app runs. `await_startup` fails at once when the VM has not registered with
 * epmd yet, so it is retried until the deadline; exit 75 (tempfail) when the deadline passes.
 */
export function waitRunningCommand(deadlineSeconds: number): ShellCommand {
  return sh`end=$(( $(date +%s) + ${deadlineSeconds} )); until rabbitmqctl -q await_startup --timeout ${deadlineSeconds} </dev/null >/dev/null 2>&1; do if [ "$(date +%s)" -ge "$end" ]; then echo "rabbit did not start within ${deadlineSeconds} s" >&2; exit 75; fi; sleep 0.5; done`.named(
    'rabbitmqctl await_startup',
  );
}

/**
 * Stops the Erlang VM whatever started it. Exit 69 means it was not running, which is what we want.
 * `service … stop` is not used: after a cookie change it claims "already stopped" while beam runs.
 */
export function shutdownCommand(): ShellCommand {
  return sh`rabbitmqctl -q shutdown </dev/null`;
}

/** sha256 of the cookie, read as the rabbitmq account; nothing on stdout when it is missing or unreadable. */
export function cookieHashCommand(): ShellCommand {
  return asRabbitmq(sh`sha256sum ${COOKIE_PATH} | cut -d' ' -f1`).named('cookie hash');
}

/**
 * The seed's cookie as base64, so the exact bytes survive the trip; the caller must never log it.
 * Read as the rabbitmq account, and refused (exit 77) when the cookie is a link or not a regular
 * file: the cookie it would send to every node must be the seed's cookie, not a file it points to.
 */
export function readCookieCommand(): ShellCommand {
  return asRabbitmq(
    sh`if [ -L ${COOKIE_PATH} ] || { [ -e ${COOKIE_PATH} ] && [ ! -f ${COOKIE_PATH} ]; }; then echo ${`${COOKIE_PATH} is not a regular file`} >&2; exit ${COOKIE_NOT_REGULAR_EXIT}; fi; base64 -w0 ${COOKIE_PATH}`,
  ).named('cookie read');
}

/** Placeholder the dry run shows where a real run puts the seed cookie's sha256. */
export const SEED_COOKIE_SHA256 = 'SEED_COOKIE_SHA256';

/**
 * Stages the cookie from stdin (base64) under a fresh mktemp name, mode 0400, and checks the
 * decoded bytes against the seed's sha256 before anything is installed: a worker that dies before
 * stdin is sent leaves `base64 -d` with empty input, and an empty cookie must never replace a real
 * one. Exit 75 (tempfail): the job's retry sends it again. Leaves the staged path in $tmp.
 */
function stagedCookie(expectedSha256: string): ShellCommand {
  return sh`umask 077 && tmp=$(mktemp ${COOKIE_TMP_TEMPLATE}) && { { base64 -d > "$tmp" && printf '%s  %s\\n' ${expectedSha256} "$tmp" | sha256sum -c --status; } || { rm -f "$tmp"; echo "the cookie received does not match the seed's (input cut short?): nothing was changed" >&2; exit 75; }; } && chmod 0400 "$tmp"`;
}

/**
 * Writes the cookie from stdin (base64), replacing the old one atomically once its hash matches
 * the seed's. All of it runs as the rabbitmq account (owner rabbitmq, mode 0400, no chown needed),
 * staged under an unpredictable name; `mv -T` renames over the cookie path, replacing a link
 * planted there instead of writing through it. The cookie is on stdin only: never in the command
 * line, never in `ps` (its sha256 is, and says nothing of a random cookie).
 */
export function writeCookieCommand(expectedSha256: string): ShellCommand {
  return asRabbitmq(sh`${stagedCookie(expectedSha256)} && mv -fT "$tmp" ${COOKIE_PATH}`).named('cookie write');
}

/**
 * Switches a running node to the cookie on stdin without a restart: the VM takes the new cookie
 * (erlang:set_cookie, read from the staged 0400 file so the secret is never in a command line), and
 * only then is the file renamed over the old one, so the CLI and the VM never disagree. One shell,
 * immune to SIGHUP, so a dropped SSH session cannot stop it between the two; nothing happens
 * unless the decoded cookie's hash is the seed's. File operations run as the rabbitmq account.
 */
export function switchCookieLiveCommand(expectedSha256: string): ShellCommand {
  const stage = asRabbitmq(sh`${stagedCookie(expectedSha256)} && echo "$tmp"`);
  const install = asRabbitmq(sh`mv -fT "$1" ${COOKIE_PATH}`);
  const tmpPattern = COOKIE_TMP_TEMPLATE.replace(/X/g, '?');
  // $tmp is checked against mktemp's template before it reaches the Erlang expression.
  const setCookie =
    `rabbitmqctl -q eval "{ok, C} = file:read_file(\\"$tmp\\"), ` +
    `erlang:set_cookie(node(), binary_to_atom(string:trim(C), utf8)), ok." ` +
    `</dev/null`;
  return new ShellCommand(
    `trap '' HUP; tmp=$(${stage.text}) && case "$tmp" in ${tmpPattern}) ;; ` +
      `*) exit 70;; esac && { ${setCookie} && ${install.text} sh "$tmp" || { ` +
      `rc=$?; runuser -u rabbitmq -- rm -f -- "$tmp"; exit $rc; }; }`,
  ).named('live cookie switch (rabbitmqctl eval)');
}

/** cluster_status of the local node; exit 69 (the CLI's "node down") at once when no VM runs. */
export function clusterStatusCommand(): ShellCommand {
  return sh`${NO_VM_EXITS_69} rabbitmqctl cluster_status --formatter json </dev/null`.named(
    'rabbitmqctl cluster_status',
  );
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
  return sh`${AS_RABBITMQ} rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name </dev/null`;
}

export function listPoliciesCommand(vhost = '/'): ShellCommand {
  return sh`${AS_RABBITMQ} rabbitmqctl -q list_policies --formatter json --vhost ${vhost} </dev/null`;
}

/**
 * The deprecated features the node sees in use (3.13 and later; exit 64 "not found" before).
 * Measured on 4.0.5 and 4.3.6: `[]` on a fresh node, JSON on stdout.
 */
export function deprecatedFeaturesUsedCommand(): ShellCommand {
  return sh`${NO_VM_EXITS_69} rabbitmq-diagnostics -q list_deprecated_features --used --formatter json </dev/null`.named(
    'rabbitmq-diagnostics list_deprecated_features --used',
  );
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
  return sh`${AS_RABBITMQ} rabbitmqctl -q update_vhost_metadata ${vhost} --default-queue-type ${queueType} </dev/null`;
}

/**
 * Would stopping this node cost a quorum queue its quorum? Measured on 3.10.8: exit 0 and
 * `{"result":"ok"}` when not; exit 69 with `{"result":"error","queues":[{"readable_name":…}]…}` on
 * stderr when it is (69 is also "node down", so the JSON decides); exit 64 when the app is stopped.
 * The command exists from 3.8.
 */
export function quorumCriticalCommand(): ShellCommand {
  return sh`${NO_VM_EXITS_69} rabbitmq-diagnostics -q check_if_node_is_quorum_critical --formatter json </dev/null`.named(
    'rabbitmq-diagnostics check_if_node_is_quorum_critical',
  );
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
  return asRabbitmq(
    sh`if [ -d ${dir} ] && [ -n "$(ls -A ${dir} 2>/dev/null)" ]; then echo data; else echo blank; fi`,
  ).named('data directory check');
}

/**
 * The offline equivalent of reset, for a node whose VM is down (rabbitmqctl reset needs a VM).
 * Measured on 3.10.8: a node forgotten while down fails its next start with `inconsistent_cluster`
 * ("thinks it's clustered with node rabbit@lab2, but rabbit@lab2 disagrees"); after removing these
 * two paths it starts as a blank single node. Refuses (exit 70) while a VM runs. Deleted as the
 * rabbitmq account: a link it planted in its own directory cannot make root delete anything else.
 */
export function wipeNodeDataCommand(nodeName: string): ShellCommand {
  const [dir, flags] = nodeDataPaths(nodeName);
  return sh`if pgrep -x beam.smp >/dev/null 2>&1; then echo "an Erlang VM runs: refusing to delete its data under it" >&2; exit 70; fi; runuser -u rabbitmq -- rm -rf -- ${dir} ${flags}`.named(
    'offline wipe of the node data',
  );
}

/**
 * The node's feature flags, `[{"name","state","stability"}]`: whether it stores metadata in Khepri
 * (`khepri_db` enabled: always on 4.3, opt-in on 4.0, absent on 3.10) and which flags are not yet
 * enabled. Exit 69 at once when no VM runs. Measured on 3.10.8, 4.0.5 and 4.3.6.
 */
export function featureFlagsCommand(): ShellCommand {
  return sh`${NO_VM_EXITS_69} rabbitmqctl -q list_feature_flags --formatter json name state stability </dev/null`.named(
    'rabbitmqctl list_feature_flags',
  );
}

/**
 * Enables every supported stable flag cluster-wide (the flag name `all`). Measured on 3.10.8, 4.0.5
 * and 4.3.6: exit 0 and "Enabling all feature flags ..." on stdout, also when nothing is left to
 * enable; 4.0.5 leaves the experimental `khepri_db` disabled (it needs `--opt-in`, never sent here).
 */
export function enableAllFeatureFlagsCommand(): ShellCommand {
  return sh`rabbitmqctl -q enable_feature_flag all </dev/null`;
}

/** Enables one flag by name, for versions whose CLI has no `all` (exit 64 for a flag the node does not know). */
export function enableFeatureFlagCommand(flag: string): ShellCommand {
  return sh`rabbitmqctl -q enable_feature_flag ${flag} </dev/null`;
}
