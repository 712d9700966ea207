import { describe, expect, it } from 'vitest';
import { assertTarget, evaluateGates, refusalError } from '../../../src/gates/evaluate.js';
import type { GateFacts, GateNode, NodeReach, QuorumVerdict } from '../../../src/gates/evaluate.js';
import type { DestructiveOperation } from '../../../src/gates/schema.js';
import { evaluateHealth, parseClusterStatus } from '../../../src/rabbit/cluster-status.js';
import { fixture } from '../../support/fixtures.js';

const node = (i: number, reach: NodeReach = 'running'): GateNode => ({
  host: `lab${i}`,
  nodeName: `rabbit@lab${i}`,
  reach,
});

/** A cluster of `count` members seen from lab1 (or the first running), with `stopped` not running. */
function facts(
  operation: DestructiveOperation,
  count: number,
  options: { stopped?: number[]; target?: number; quorum?: QuorumVerdict; targetReach?: NodeReach } = {},
): GateFacts {
  const stopped = new Set(options.stopped ?? []);
  const members = Array.from({ length: count }, (_, i) => node(i + 1, stopped.has(i + 1) ? 'app-stopped' : 'running'));
  const running = members.filter((m) => m.reach === 'running').map((m) => m.nodeName);
  const readFrom = members.find((m) => m.reach === 'running')?.host;
  const targetNode =
    options.target === undefined
      ? undefined
      : {
          ...(members[options.target - 1] ?? node(options.target, 'running')),
          ...(options.targetReach ? { reach: options.targetReach } : {}),
        };
  return {
    operation,
    cluster: 'lab',
    members,
    ...(readFrom ? { view: { readFrom, disk: members.map((m) => m.nodeName), running } } : {}),
    ...(targetNode ? { target: { ...targetNode, ...(options.quorum ? { quorum: options.quorum } : {}) } } : {}),
  };
}

const failed = (report: ReturnType<typeof evaluateGates>) => report.checks.filter((c) => !c.ok).map((c) => c.id);

describe('gates for node.reset', () => {
  it('allows a reset of one of 3 running nodes', () => {
    const report = evaluateGates(facts('node.reset', 3, { target: 3, quorum: { critical: false } }), 'lab3');
    expect(report.allowed).toBe(true);
    expect(report.checks.map((c) => c.id)).toEqual([
      'node.last_running_disk',
      'cluster.minority',
      'node.quorum_critical',
      'node.reachable',
    ]);
    expect(report.checks.find((c) => c.id === 'cluster.minority')?.detail).toBe('2 of 3 node(s) stay running');
    expect(report.readFrom).toBe('lab1');
    expect(report.wipes).toEqual(['lab3: its membership of lab, and every queue, message, user and vhost it holds']);
  });

  it('refuses the last running disk node, with a remedy', () => {
    const report = evaluateGates(
      facts('node.reset', 3, { stopped: [2, 3], target: 1, quorum: { critical: false } }),
      'lab1',
    );
    expect(report.allowed).toBe(false);
    expect(failed(report)).toEqual(['node.last_running_disk', 'cluster.minority']);
    const last = report.checks.find((c) => c.id === 'node.last_running_disk');
    expect(last?.detail).toBe('rabbit@lab1 is the last running disk node of lab');
    expect(last?.remedy).toMatch(/Start another node/);
  });

  it('refuses a reset that leaves a minority running (members stay 3)', () => {
    expect(
      failed(evaluateGates(facts('node.reset', 3, { stopped: [2], target: 3, quorum: { critical: false } }))),
    ).toEqual(['cluster.minority']);
  });

  it('counts a reset target among the members after: 2 of 4 running is not a majority', () => {
    expect(
      failed(evaluateGates(facts('node.reset', 4, { stopped: [2], target: 4, quorum: { critical: false } }))),
    ).toEqual(['cluster.minority']);
  });

  it('refuses a quorum-critical target, naming the queues', () => {
    const report = evaluateGates(
      facts('node.reset', 5, { target: 3, quorum: { critical: true, queues: ["queue 'qq1' in vhost '/'"] } }),
    );
    expect(failed(report)).toEqual(['node.quorum_critical']);
    expect(report.checks.find((c) => c.id === 'node.quorum_critical')?.detail).toContain("queue 'qq1' in vhost '/'");
  });

  it('passes the quorum gate on versions without the check', () => {
    expect(evaluateGates(facts('node.reset', 3, { target: 3, quorum: 'unsupported' })).allowed).toBe(true);
  });

  it('refuses a target whose RabbitMQ is down or that does not answer', () => {
    for (const reach of ['vm-down', 'unreachable'] as const) {
      const f = facts('node.reset', 3, { target: 3 });
      f.members[2] = { ...f.members[2], reach };
      f.view = { readFrom: 'lab1', disk: f.view!.disk, running: ['rabbit@lab1', 'rabbit@lab2'] };
      f.target = { ...f.members[2], quorum: 'not-asked' };
      const report = evaluateGates(f);
      expect(failed(report)).toEqual(['node.reachable']);
    }
  });

  it('allows resetting a node whose app is stopped (a reset left half-done)', () => {
    const report = evaluateGates(facts('node.reset', 3, { stopped: [3], target: 3, quorum: 'not-asked' }));
    expect(report.allowed).toBe(true);
  });

  it('refuses everything when no member answered at all', () => {
    const f = facts('node.reset', 3, { stopped: [1, 2, 3], target: 2, quorum: 'not-asked' });
    expect(f.view).toBeUndefined();
    expect(failed(evaluateGates(f))).toEqual(['cluster.minority']);
  });
});

describe('gates for node.remove', () => {
  it('allows removing one of 3 running nodes (members become 2, 2 run)', () => {
    const report = evaluateGates(facts('node.remove', 3, { target: 3, quorum: { critical: false } }));
    expect(report.allowed).toBe(true);
    expect(report.checks.find((c) => c.id === 'cluster.minority')?.detail).toBe('2 of 2 node(s) stay running');
  });

  it('refuses when only half of the members left would run', () => {
    expect(
      failed(evaluateGates(facts('node.remove', 3, { stopped: [2], target: 3, quorum: { critical: false } }))),
    ).toEqual(['cluster.minority']);
  });

  it('allows removing a dead node, warning that it must be wiped before it returns', () => {
    for (const reach of ['vm-down', 'unreachable'] as const) {
      const f = facts('node.remove', 3, { target: 3 });
      f.members[2] = { ...f.members[2], reach };
      f.view = { readFrom: 'lab1', disk: f.view!.disk, running: ['rabbit@lab1', 'rabbit@lab2'] };
      f.target = { ...f.members[2], quorum: 'not-asked' };
      const report = evaluateGates(f);
      expect(report.allowed).toBe(true);
      expect(report.checks.find((c) => c.id === 'node.reachable')?.detail).toMatch(
        reach === 'unreachable' ? /forgotten on the survivors only.*inconsistent_cluster/ : /wiped offline/,
      );
    }
  });

  it('refuses removing the last running disk node', () => {
    expect(
      failed(evaluateGates(facts('node.remove', 2, { stopped: [2], target: 1, quorum: { critical: false } }))),
    ).toEqual(['node.last_running_disk', 'cluster.minority']);
  });
});

describe('gates for node.add', () => {
  it('allows an add when the seed runs, reporting nothing to wipe on an empty standalone host', () => {
    const f = facts('node.add', 3);
    f.target = { host: 'lab4', nodeName: 'rabbit@lab4', reach: 'running', ownMembers: ['rabbit@lab4'], queues: 0 };
    const report = evaluateGates(f, 'lab4');
    expect(report.allowed).toBe(true);
    expect(report.wipes).toEqual([]);
  });

  it('reports what the join would destroy, without refusing (the approval covers it)', () => {
    const f = facts('node.add', 3);
    f.target = {
      host: 'lab4',
      nodeName: 'rabbit@lab4',
      reach: 'running',
      ownMembers: ['rabbit@lab4', 'rabbit@lab9'],
      queues: 3,
    };
    const report = evaluateGates(f, 'lab4');
    expect(report.allowed).toBe(true);
    expect(report.wipes).toEqual([
      'lab4 belongs to another cluster (rabbit@lab9): the join takes it out of it',
      'lab4 holds 3 queue(s): the join deletes them',
    ]);
  });

  it('refuses when the seed does not run or the host does not answer', () => {
    const f = facts('node.add', 3, { stopped: [1] });
    f.target = { host: 'lab4', nodeName: 'rabbit@lab4', reach: 'unreachable' };
    const report = evaluateGates(f, 'lab4');
    expect(report.checks.filter((c) => !c.ok).map((c) => c.detail)).toEqual([
      'the seed rabbit@lab1 of lab is not running',
      'lab4 is unreachable over SSH',
    ]);
  });
});

describe('gates for cluster.teardown', () => {
  it('allows a teardown when every node answers, listing what each loses', () => {
    const f = facts('cluster.teardown', 3);
    f.clusterQueues = 2;
    const report = evaluateGates(f);
    expect(report.allowed).toBe(true);
    expect(report.wipes).toEqual([
      'lab1: its membership of lab, users, vhosts and messages',
      'lab2: its membership of lab, users, vhosts and messages',
      'lab3: its membership of lab, users, vhosts and messages',
      'lab holds 2 queue(s): all deleted',
    ]);
  });

  it('refuses while a node cannot be reset, naming it', () => {
    const f = facts('cluster.teardown', 3);
    f.members[1] = { ...f.members[1], reach: 'vm-down' };
    const report = evaluateGates(f);
    expect(report.allowed).toBe(false);
    expect(report.checks[0]?.detail).toBe('lab2 (RabbitMQ down) cannot be reset');
  });
});

describe('gates for cluster.restart', () => {
  const expected = new Map([1, 2, 3].map((i) => [`rabbit@lab${i}`, `lab${i}`]));
  const withHealth = (file: string, stopped: number[] = []): GateFacts => ({
    ...facts('cluster.restart', 3, { stopped }),
    health: evaluateHealth('lab', parseClusterStatus(fixture(`rabbitmq-3.10/${file}`), 'lab1'), expected, 'lab1'),
  });

  it('allows a roll of a healthy cluster: every node runs, no alarm, no partition', () => {
    const report = evaluateGates(withHealth('cluster_status.clean.json'));
    expect(report.allowed).toBe(true);
    expect(report.checks.map((c) => c.id)).toEqual(['node.reachable', 'cluster.healthy']);
    expect(report.wipes).toEqual([]);
  });

  it('refuses a cluster with a node down, naming it and what to do', () => {
    const report = evaluateGates(withHealth('cluster_status.lab3-rabbit-stopped.json', [3]));
    expect(report.allowed).toBe(false);
    expect(failed(report)).toEqual(['node.reachable', 'cluster.healthy']);
    expect(report.checks[0]?.detail).toBe('lab3 (app-stopped) not running or not answering');
    expect(report.checks[1]?.detail).toMatch(/^lab is not healthy: rabbit@lab3 is stopped/);
    expect(refusalError(report).code).toBe('gate.refused');
  });

  it('refuses a cluster with an alarm, though every node runs', () => {
    const report = evaluateGates(withHealth('cluster_status.memory-alarm.json'));
    expect(failed(report)).toEqual(['cluster.healthy']);
    expect(report.checks[1]?.remedy).toMatch(/Fix what warren status lab reports first/);
  });

  it('refuses when no member answered at all', () => {
    const report = evaluateGates(facts('cluster.restart', 3, { stopped: [1, 2, 3] }));
    expect(report.allowed).toBe(false);
    expect(report.checks[1]?.detail).toBe('lab is not healthy: no member answered cluster_status');
  });
});

describe('assertTarget', () => {
  const members = ['lab1', 'lab2', 'lab3'];
  const inventory = ['lab1', 'lab2', 'lab3', 'lab4'];

  it('accepts a member for reset/remove and a non-member inventory host for add', () => {
    expect(() => assertTarget('node.reset', 'lab', 'lab2', members, inventory)).not.toThrow();
    expect(() => assertTarget('node.add', 'lab', 'lab4', members, inventory)).not.toThrow();
    expect(() => assertTarget('cluster.teardown', 'lab', undefined, members, inventory)).not.toThrow();
  });

  it('refuses with node.unknown and the valid names', () => {
    expect(() => assertTarget('node.remove', 'lab', 'lab4', members, inventory)).toThrow(
      expect.objectContaining({ code: 'node.unknown', hint: 'Members of lab: lab1, lab2, lab3.' }),
    );
    expect(() => assertTarget('node.add', 'lab', 'lab2', members, inventory)).toThrow(
      expect.objectContaining({ code: 'node.unknown', hint: 'Hosts that could be added: lab4.' }),
    );
    expect(() => assertTarget('node.add', 'lab', 'lab7', members, inventory)).toThrow(
      expect.objectContaining({ code: 'node.unknown', message: 'lab7 is not an inventory host' }),
    );
    expect(() => assertTarget('node.reset', 'lab', undefined, members, inventory)).toThrow(
      expect.objectContaining({ code: 'node.unknown' }),
    );
  });
});

describe('refusalError', () => {
  it('is gate.refused, not retryable, with every failed check and every remedy', () => {
    const report = evaluateGates(
      facts('node.reset', 3, { stopped: [2, 3], target: 1, quorum: { critical: false } }),
      'lab1',
    );
    const error = refusalError(report);
    expect(error.code).toBe('gate.refused');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('node.last_running_disk: rabbit@lab1 is the last running disk node of lab');
    expect(error.message).toContain('cluster.minority: only 0 of 3 node(s) would stay running');
    expect(error.hint).toMatch(/Start another node.*Start the stopped nodes/);
  });
});

describe(
  'gates under Khepri (4.3, or 4.0 with khepri_db): a membership change ' + 'needs a majority running and reachable',
  () => {
    /** 3 members on Khepri; `down` lists members whose VM is down (not in the view's running list). */
    function khepri(
      operation: DestructiveOperation,
      down: number[],
      options: { target?: number; targetReach?: NodeReach; unreachable?: number[] } = {},
    ): GateFacts {
      const base = facts(operation, 3, {
        stopped: down,
        ...(options.target ? { target: options.target } : {}),
        ...(options.targetReach ? { targetReach: options.targetReach } : {}),
      });
      const unreachable = new Set(options.unreachable ?? []);
      const members = base.members.map((m, i) =>
        down.includes(i + 1)
          ? { ...m, reach: 'vm-down' as const }
          : unreachable.has(i + 1)
            ? { ...m, reach: 'unreachable' as const }
            : m,
      );
      return { ...base, members, store: 'khepri' };
    }
    const newHost: GateNode = {
      host: 'lab4',
      nodeName: 'rabbit@lab4',
      reach: 'running',
      ownMembers: ['rabbit@lab4'],
      queues: 0,
    };

    it('refuses node add with 2 of 3 nodes stopped, before anything runs', () => {
      const report = evaluateGates({ ...khepri('node.add', [2, 3]), target: newHost }, 'lab4');
      expect(report.allowed).toBe(false);
      expect(failed(report)).toEqual(['cluster.minority']);
      expect(report.checks.find((c) => c.id === 'cluster.minority')?.detail).toBe(
        'only 1 of 3 node(s) run and answer: the metadata store (Khepri) has no majority to commit a membership change',
      );
    });

    it('allows node add with 2 of 3 running', () => {
      const report = evaluateGates({ ...khepri('node.add', [3]), target: newHost }, 'lab4');
      expect(report.allowed).toBe(true);
      expect(report.checks.find((c) => c.id === 'cluster.minority')?.detail).toBe(
        '2 of 3 node(s) run and answer: a majority of the metadata store (Khepri)',
      );
    });

    it('keeps Mnesia clusters as before: node add with only the seed running is allowed', () => {
      expect(evaluateGates({ ...facts('node.add', 3, { stopped: [2, 3] }), target: newHost }, 'lab4').allowed).toBe(
        true,
      );
    });

    it('refuses node remove of a stopped node with 2 of 3 stopped', () => {
      const report = evaluateGates(khepri('node.remove', [2, 3], { target: 3, targetReach: 'vm-down' }), 'lab3');
      expect(failed(report)).toEqual(['cluster.minority']);
    });

    it('does not count a node the view lists as running but that does not answer itself', () => {
      // lab2 is in lab1's running_nodes, but SSH to it fails: only lab1 is known to run.
      const f = khepri('node.reset', [], { target: 3, unreachable: [2] });
      const report = evaluateGates({ ...f, target: { ...f.target!, quorum: { critical: false } } }, 'lab3');
      expect(failed(report)).toEqual(['cluster.minority']);
    });

    it('refuses a teardown without a majority running and answering', () => {
      const report = evaluateGates(khepri('cluster.teardown', [], { unreachable: [2, 3] }));
      expect(failed(report)).toEqual(['node.reachable', 'cluster.minority']);
    });
  },
);

describe('gates for feature-flags.enable', () => {
  it('allows it when every node runs, naming the flags it would enable (none is fine: idempotent)', () => {
    const report = evaluateGates({ ...facts('feature-flags.enable', 3), flagsToEnable: ['stream_queue'] });
    expect(report.allowed).toBe(true);
    expect(report.checks).toEqual([
      { id: 'node.reachable', ok: true, detail: 'all 3 node(s) run RabbitMQ' },
      { id: 'flags.to_enable', ok: true, detail: 'would enable 1 stable feature flag(s): stream_queue' },
    ]);
    expect(report.wipes).toEqual([]);
    const none = evaluateGates({ ...facts('feature-flags.enable', 3), flagsToEnable: [] });
    expect(none.allowed).toBe(true);
    expect(none.checks[1].detail).toBe('every stable feature flag is already enabled: nothing to enable');
  });

  it('refuses with any node not running its app, naming each, with what to do', () => {
    const f = facts('feature-flags.enable', 3, { stopped: [2] });
    f.members[2] = { ...f.members[2], reach: 'unreachable' };
    const report = evaluateGates({ ...f, flagsToEnable: ['stream_queue'] });
    expect(failed(report)).toEqual(['node.reachable']);
    expect(report.checks[0].detail).toBe(
      'lab2 (app stopped), lab3 (unreachable): a feature flag is enabled on every node at once and cannot be ' +
        'enabled with a node missing',
    );
    expect(report.checks[0].remedy).toContain('Start RabbitMQ on lab2, lab3');
  });

  it('refuses when the flags could not be read at all', () => {
    const report = evaluateGates(facts('feature-flags.enable', 2, { stopped: [1, 2] }));
    expect(failed(report)).toEqual(['node.reachable', 'flags.to_enable']);
  });

  it('takes no node', () => {
    expect(() => assertTarget('feature-flags.enable', 'lab', undefined, ['lab1'], ['lab1'])).not.toThrow();
  });
});
