import { describe, expect, it } from 'vitest';
import { isWarrenError } from '../../../src/errors.js';
import type { WarrenError } from '../../../src/errors.js';
import { parseBootIdentity, restartCapabilities } from '../../../src/rabbit/rolling-restart.js';
import { RollCheckpoint, rollingRestart } from '../../../src/steps/rolling-restart.js';
import { declareStep } from '../../../src/steps/step.js';
import { fixture } from '../../support/fixtures.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import type { Reply } from '../../support/recording-shells.js';
import { stepContext } from '../../support/step-context.js';

const STATUS_310 = fixture('rabbitmq-3.10/cluster_status.clean.json');

/**
 * Three fake 3.10.8 nodes: each has a VM (a pid); a restart gives it a new one, unless the host is
 * in `failing` (the init script exits 1 and leaves no VM). Every command is recorded.
 */
function setUp(options: { failing?: string[]; checkpoint?: unknown; vms?: Record<string, number> } = {}) {
  const cluster = labCluster(3);
  const vms = new Map(cluster.hosts.map((h, i) => [h.name, options.vms?.[h.name] ?? 100 + i]));
  const respond = (host: string, command: string): Reply => {
    if (command.includes('cluster_status')) return { code: 0, stdout: STATUS_310 };
    if (command.includes('pgrep -u rabbitmq -x beam.smp); do echo')) {
      const vm = vms.get(host)!;
      return { code: 0, stdout: vm === 0 ? '' : `${vm} 4242\n` };
    }
    if (command.includes('service rabbitmq-server restart')) {
      if (options.failing?.includes(host)) {
        vms.set(host, 0);
        return { code: 1, stderr: 'Restarting RabbitMQ Messaging Server: rabbitmq-server failed!' };
      }
      vms.set(host, vms.get(host)! + 10);
      return { code: 0 };
    }
    if (/await_online_quorum_plus_one|upgrade -q (drain|revive)|await_startup|\[i\]nit/.test(command))
      return { code: 0 };
    throw new Error(`no answer on ${host} for ${command}`);
  };
  const shells = new RecordingShells(cluster.hosts, respond);
  const { ctx, reports, saved } = stepContext(cluster, shells, { checkpoint: options.checkpoint });
  /** The commands as `host: short name`, in order. */
  const trail = () =>
    shells.commands.map((c) => {
      const name = /service rabbitmq-server restart/.test(c.command)
        ? 'restart'
        : /await_startup/.test(c.command)
          ? 'await_startup'
          : /await_online_quorum_plus_one/.test(c.command)
            ? 'quorum+1'
            : (/upgrade -q (drain|revive)/.exec(c.command)?.[1] ??
              (/cluster_status/.test(c.command)
                ? 'cluster_status'
                : /\[i\]nit/.test(c.command)
                  ? 'idle'
                  : /beam\.smp\); do echo/.test(c.command)
                    ? 'vm'
                    : c.command));
      return `${c.host}: ${name}`;
    });
  return { ctx, shells, reports, saved, vms, trail };
}

const ONE_NODE = (host: string) => [
  `${host}: cluster_status`,
  `${host}: quorum+1`,
  `${host}: drain`,
  `${host}: vm`,
  `${host}: restart`,
  `${host}: await_startup`,
  `${host}: revive`,
  `${host}: quorum+1`,
];

describe('rabbit:rolling-restart', () => {
  it('restarts one node at a time, the seed last, each waited for, drained, restarted and revived', async () => {
    const { ctx, saved, trail, vms, reports } = setUp();
    const outcome = await declareStep(rollingRestart).execute(ctx);
    expect(trail()).toEqual([...ONE_NODE('lab2'), ...ONE_NODE('lab3'), ...ONE_NODE('lab1')]);
    expect([...vms.values()]).toEqual([110, 111, 112]);
    expect(outcome?.output?.outcomes?.map((o) => o.host)).toEqual(['lab2', 'lab3', 'lab1']);
    // Before each restart its VM is saved; after it, the node is done.
    expect(saved.map((s) => RollCheckpoint.parse(s).nodes)).toEqual([
      { lab2: { phase: 'restarting', before: '101:4242', version: '3.10.8' } },
      { lab2: { phase: 'done' } },
      { lab2: { phase: 'done' }, lab3: { phase: 'restarting', before: '102:4242', version: '3.10.8' } },
      { lab2: { phase: 'done' }, lab3: { phase: 'done' } },
      {
        lab2: { phase: 'done' },
        lab3: { phase: 'done' },
        lab1: { phase: 'restarting', before: '100:4242', version: '3.10.8' },
      },
      { lab2: { phase: 'done' }, lab3: { phase: 'done' }, lab1: { phase: 'done' } },
    ]);
    // Progress per node: running, then done.
    expect(reports.filter((r) => r.state === 'done').map((r) => r.host)).toEqual(['lab2', 'lab3', 'lab1']);
  });

  it('resumed after its restart happened: the node is not restarted again, the roll goes on from it', async () => {
    const checkpoint = {
      nodes: { lab2: { phase: 'done' }, lab3: { phase: 'restarting', before: '102:4242', version: '3.10.8' } },
    };
    // lab3 already runs another VM: the restart the dead attempt sent happened.
    const { ctx, trail } = setUp({ checkpoint, vms: { lab2: 111, lab3: 112 } });
    await declareStep(rollingRestart).execute(ctx);
    expect(trail()).toEqual([
      'lab3: idle',
      'lab3: vm',
      'lab3: await_startup',
      'lab3: revive',
      'lab3: quorum+1',
      ...ONE_NODE('lab1'),
    ]);
  });

  it('resumed before its restart happened (same VM): restarts it, once', async () => {
    const checkpoint = { nodes: { lab2: { phase: 'restarting', before: '101:4242', version: '3.10.8' } } };
    const { ctx, trail, vms } = setUp({ checkpoint });
    await declareStep(rollingRestart).execute(ctx);
    expect(trail().slice(0, 6)).toEqual([
      'lab2: idle',
      'lab2: vm',
      'lab2: restart',
      'lab2: await_startup',
      'lab2: revive',
      'lab2: quorum+1',
    ]);
    expect(trail().filter((l) => l.endsWith('restart'))).toEqual(['lab2: restart', 'lab3: restart', 'lab1: restart']);
    expect(vms.get('lab2')).toBe(111);
  });

  it('every node done by an earlier attempt: skipped, nothing runs', async () => {
    const checkpoint = { nodes: { lab1: { phase: 'done' }, lab2: { phase: 'done' }, lab3: { phase: 'done' } } };
    const { ctx, shells } = setUp({ checkpoint });
    expect(await declareStep(rollingRestart).execute(ctx)).toBeUndefined();
    expect(shells.commands).toEqual([]);
  });

  it('a node that does not come back stops the roll there; the nodes after it get no command', async () => {
    const { ctx, shells } = setUp({ failing: ['lab3'] });
    const error = await declareStep(rollingRestart)
      .execute(ctx)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isWarrenError(error)).toBe(true);
    const e = error as WarrenError;
    expect(e.code).toBe('restart.node_down');
    expect(e.retryable).toBe(false);
    expect(e.host).toBe('lab3');
    expect(e.message).toBe('lab3: it did not come back after its restart; the rolling restart stopped there');
    expect(e.hint).toMatch(
      /^lab2 restarted already; lab1 not touched and still serving\. Look at \/var\/log\/rabbitmq/,
    );
    expect(e.evidence?.exitCode).toBe(1);
    expect(shells.commandsOn('lab1')).toEqual([]);
  });

  it('plans the per-node commands in roll order, the seed last', () => {
    const plan = rollingRestart.plan(labCluster(3));
    expect(plan.filter((p) => /restart/.test(p.command)).map((p) => p.host)).toEqual(['lab2', 'lab3', 'lab1']);
    expect(plan.filter((p) => p.host === 'lab2').map((p) => p.command.split(' </dev/null')[0])).toEqual([
      'rabbitmq-upgrade -q await_online_quorum_plus_one --timeout 120',
      'rabbitmq-upgrade -q drain',
      expect.stringContaining('service rabbitmq-server restart'),
      expect.stringContaining('await_startup'),
      'rabbitmq-upgrade -q revive',
      'rabbitmq-upgrade -q await_online_quorum_plus_one --timeout 120',
      'rabbitmq-diagnostics -q check_if_new_quorum_queue_replicas_have_finished_initial_sync',
    ]);
  });
});

describe('restart capabilities and VM identity', () => {
  it('adapts to the version: 3.10 and 4.x have maintenance mode; only 4.x the initial-sync check', () => {
    expect(restartCapabilities('3.10.8')).toEqual({
      awaitQuorumPlusOne: true,
      quorumCriticalCheck: true,
      maintenance: true,
      initialSyncCheck: false,
    });
    expect(restartCapabilities('4.0.5').initialSyncCheck).toBe(true);
    expect(restartCapabilities('3.8.5')).toMatchObject({ awaitQuorumPlusOne: true, maintenance: false });
    expect(restartCapabilities('3.7.28')).toMatchObject({ awaitQuorumPlusOne: false, quorumCriticalCheck: false });
  });

  it('reads the VM identity from pgrep and /proc, and none when no VM runs', () => {
    expect(parseBootIdentity('132 35110\n')).toBe('132:35110');
    expect(parseBootIdentity('')).toBe('none');
    expect(parseBootIdentity('garbage\n')).toBe('none');
  });
});
