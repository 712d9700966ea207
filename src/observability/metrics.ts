import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProgressEvent } from '../operations/progress.js';
import type { CommandRecord } from '../ssh/session.js';
import type { WatchState } from '../status/watch-judge.js';

/** The counters an operator graphs: jobs by outcome, step and SSH command durations, SSH failures. */
export interface WarrenMetrics {
  registry: Registry;
  jobs: Counter<'operation' | 'outcome'>;
  stepDuration: Histogram<'operation' | 'step' | 'state'>;
  sshCommandDuration: Histogram<'host' | 'outcome'>;
  sshCommandFailures: Counter<'host' | 'exit_code'>;
}

/** A registry of its own (not prom-client's global), so tests and processes never share counters. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): WarrenMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'warren_' });
  return {
    registry,
    jobs: new Counter({
      name: 'warren_jobs_total',
      help: 'Job attempts by operation and outcome (completed, failed, retrying)',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    stepDuration: new Histogram({
      name: 'warren_step_duration_seconds',
      help: 'How long each step took, by operation, step and end state (done, skipped, failed)',
      labelNames: ['operation', 'step', 'state'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320],
      registers: [registry],
    }),
    sshCommandDuration: new Histogram({
      name: 'warren_ssh_command_duration_seconds',
      help: 'Remote command durations by host and outcome (ok, failed)',
      labelNames: ['host', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 180],
      registers: [registry],
    }),
    sshCommandFailures: new Counter({
      name: 'warren_ssh_command_failures_total',
      help: 'Remote commands that failed, by host and exit code ("none" when the connection dropped)',
      labelNames: ['host', 'exit_code'],
      registers: [registry],
    }),
  };
}

/** Counts what a progress event says: a job's end or retry, a step's duration. */
export function observeEvent(metrics: WarrenMetrics, event: ProgressEvent): void {
  if (event.type === 'job') {
    if (event.state === 'completed' || event.state === 'failed' || event.state === 'retrying') {
      metrics.jobs.inc({ operation: event.operation, outcome: event.state });
    }
    return;
  }
  // The step's own events (no host) carry its duration; per-host events would count it twice.
  if (
    event.host === undefined &&
    event.durationMs !== undefined &&
    event.state !== 'running' &&
    event.state !== 'pending'
  ) {
    metrics.stepDuration.observe(
      { operation: event.operation, step: event.step, state: event.state },
      event.durationMs / 1000,
    );
  }
}

/** Times one remote command; failures also counted by exit code. */
export function observeCommand(metrics: WarrenMetrics, record: CommandRecord): void {
  metrics.sshCommandDuration.observe(
    { host: record.host, outcome: record.ok ? 'ok' : 'failed' },
    record.durationMs / 1000,
  );
  if (!record.ok)
    metrics.sshCommandFailures.inc({
      host: record.host,
      exit_code: record.code === null ? 'none' : String(record.code),
    });
}

/** What a slash command came to: acted on, refused (channel, user or role), or not understood. */
export type CommandOutcome = 'accepted' | 'refused' | 'usage_error';

/** The bot's counters: Slack Web API calls retried after a 429, slash commands by outcome. */
export interface BotMetrics {
  registry: Registry;
  slackApiRetries: Counter<'method'>;
  slackCommands: Counter<'command' | 'outcome'>;
}

/** The bot's own registry, in the worker's style: `warren_` names, process metrics included. */
export function createBotMetrics(options: { defaultMetrics?: boolean } = {}): BotMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'warren_' });
  return {
    registry,
    slackApiRetries: new Counter({
      name: 'warren_slack_api_retries_total',
      help: 'Slack Web API calls answered 429 (rate limited) and retried after Retry-After, by method',
      labelNames: ['method'],
      registers: [registry],
    }),
    slackCommands: new Counter({
      name: 'warren_slack_commands_total',
      help:
        'Slash commands by subcommand (help, jobs, status, cluster.create, ' +
        'unknown) and outcome (accepted, refused, usage_error)',
      labelNames: ['command', 'outcome'],
      registers: [registry],
    }),
  };
}

/**
 * Each watched cluster's last judged state as gauges (`cluster` label), read from Redis at every
 * scrape, so any worker's /metrics shows every watch, whichever worker judged it last.
 */
export function addWatchGauges(registry: Registry, readStates: () => Promise<WatchState[]>): void {
  const gauge = (name: string, help: string, value: (state: WatchState) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['cluster'],
      registers: [registry],
      async collect() {
        this.reset();
        const states = await readStates().catch(() => []);
        for (const state of states) this.set({ cluster: state.cluster }, value(state));
      },
    });
  gauge(
    'warren_watch_nodes_running',
    'Nodes running in a watched cluster at its last reading',
    (s) => s.gauges.nodesRunning,
  );
  gauge(
    'warren_watch_nodes_expected',
    'Nodes a watched cluster should have (the config)',
    (s) => s.gauges.nodesExpected,
  );
  gauge('warren_watch_partitions', 'Nodes reporting a partition at the last reading', (s) => s.gauges.partitions);
  gauge('warren_watch_alarms', 'Resource alarms (memory, disk) at the last reading', (s) => s.gauges.alarms);
  gauge(
    'warren_watch_under_replicated_quorum_queues',
    'Quorum queues with fewer online replicas than the cluster has nodes (4.x)',
    (s) => s.gauges.underReplicatedQueues,
  );
  gauge(
    'warren_watch_open_faults',
    'Faults the watch has alerted on and not yet seen recover',
    (s) => Object.keys(s.faults).length,
  );
}
