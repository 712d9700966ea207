import type { ServiceManagerSetting } from '../config/schema.js';
import { sh } from '../ssh/quote.js';
import type { ShellCommand } from '../ssh/quote.js';
import { compareVersions } from './version.js';

/**
 * The commands of a rolling restart, and which of them a RabbitMQ version has. Measured in the lab
 * on 3.10.8, 4.0.5 and 4.3.6: all three have `rabbitmq-upgrade await_online_quorum_plus_one`, `drain`
 * and `revive`, and `rabbitmq-diagnostics check_if_node_is_quorum_critical`; only 4.x has
 * `check_if_new_quorum_queue_replicas_have_finished_initial_sync` (3.10.8: "not found").
 */
export interface RestartCapabilities {
  /** `rabbitmq-upgrade await_online_quorum_plus_one` (3.8.0 on); else the quorum-critical check is polled. */
  awaitQuorumPlusOne: boolean;
  /** `rabbitmq-diagnostics check_if_node_is_quorum_critical` (3.8.0 on: quorum queues came with it). */
  quorumCriticalCheck: boolean;
  /** Maintenance mode: `rabbitmq-upgrade drain` / `revive` (3.8.8 on). */
  maintenance: boolean;
  /** `check_if_new_quorum_queue_replicas_have_finished_initial_sync` (4.0 on). */
  initialSyncCheck: boolean;
}

/** What a version offers; an unknown version is taken as the newest (each command is judged by its exit). */
export function restartCapabilities(version: string | undefined): RestartCapabilities {
  const atLeast = (v: string): boolean => version === undefined || compareVersions(version, v) >= 0;
  return {
    awaitQuorumPlusOne: atLeast('3.8.0'),
    quorumCriticalCheck: atLeast('3.8.0'),
    maintenance: atLeast('3.8.8'),
    initialSyncCheck: atLeast('4.0.0'),
  };
}

/** Waits until no quorum queue (or stream) would lose its quorum if this node stopped; exit 0 once so. */
export function awaitQuorumPlusOneCommand(timeoutSeconds: number): ShellCommand {
  return sh`rabbitmq-upgrade -q await_online_quorum_plus_one --timeout ${String(timeoutSeconds)} </dev/null`.named(
    'rabbitmq-upgrade await_online_quorum_plus_one',
  );
}

/** Puts the node in maintenance mode: clients move away, its queue leaders transfer to other nodes. */
export function drainCommand(): ShellCommand {
  return sh`rabbitmq-upgrade -q drain </dev/null`.named('rabbitmq-upgrade drain');
}

/** Takes the node out of maintenance mode. */
export function reviveCommand(): ShellCommand {
  return sh`rabbitmq-upgrade -q revive </dev/null`.named('rabbitmq-upgrade revive');
}

/**
 * 4.x: exit 0 once no new quorum queue replica on this node is still catching up (a promotable,
 * non-voting member); non-zero while one is.
 */
export function initialSyncCheckCommand(): ShellCommand {
  return sh`rabbitmq-diagnostics -q check_if_new_quorum_queue_replicas_have_finished_initial_sync </dev/null`.named(
    'rabbitmq-diagnostics check_if_new_quorum_queue_replicas_have_finished_initial_sync',
  );
}

/**
 * Restarts the service as the host runs it: systemd, or the init script (`service`, as in the lab:
 * no systemd there); `auto` asks PID 1 on the host. Exit non-zero when the node did not start.
 */
export function serviceRestartCommand(manager: ServiceManagerSetting): ShellCommand {
  if (manager === 'systemd') return sh`systemctl restart rabbitmq-server`;
  if (manager === 'sysv') return sh`service rabbitmq-server restart`;
  return sh`if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then systemctl restart rabbitmq-server; else service rabbitmq-server restart; fi`.named(
    'service rabbitmq-server restart (systemctl where systemd is PID 1)',
  );
}

/**
 * Waits while a restart or start of the service is still under way on the host (an init script or
 * systemctl started by an attempt that died: its command goes on without it); exit 75 past the
 * deadline. The bracketed first letters keep pgrep from matching this very command line.
 */
export function awaitServiceIdleCommand(seconds: number): ShellCommand {
  return sh`i=0; while pgrep -f '[i]nit[.]d/rabbitmq-server|[s]ystemctl (re)?start rabbitmq-server' >/dev/null 2>&1; do i=$((i + 1)); if [ "$i" -ge ${String(seconds)} ]; then echo "a restart of rabbitmq-server still runs after ${String(seconds)} s" >&2; exit 75; fi; sleep 1; done`.named(
    'wait until no restart of rabbitmq-server runs',
  );
}

/**
 * Which Erlang VM runs now: the rabbitmq account's beam.smp pid and its start time (clock ticks
 * since the host booted, field 22 of /proc/PID/stat), one `pid ticks` line per VM; nothing when
 * none runs. Read without the CLI (no VM to start, no cookie needed). A restart changes it.
 */
export function bootIdentityCommand(): ShellCommand {
  return sh`for p in $(pgrep -u rabbitmq -x beam.smp); do echo "$p $(cut -d' ' -f22 /proc/$p/stat 2>/dev/null)"; done; true`.named(
    'read the Erlang VM pid and start time',
  );
}

/** A VM's identity (`pid:ticks`), or 'none' when no VM runs. Only the first 4 lines are read: a host has one VM. */
export function parseBootIdentity(stdout: string): string {
  const lines = stdout.slice(0, 512).split('\n', 4);
  const ids = lines.map((l) => /^(\d{1,10}) (\d{1,20})$/.exec(l.trim())).filter((m) => m !== null);
  return ids.length === 0 ? 'none' : ids.map((m) => `${m[1]}:${m[2]}`).join(',');
}
