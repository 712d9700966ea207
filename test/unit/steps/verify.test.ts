import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { declareStep } from '../../../src/steps/step.js';
import { awaitHealthy, expectedNodes, verify } from '../../../src/steps/verify.js';
import type { ClusterHealth } from '../../../src/rabbit/cluster-status.js';
import { CMD } from '../../support/expected-commands.js';
import { fixture } from '../../support/fixtures.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import type { Reply } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';

const STATUS = CMD.clusterStatus;
const CLEAN: Reply = { code: 0, stdout: fixture('rabbitmq-3.10/cluster_status.clean.json') };
const LAB3_STOPPED: Reply = { code: 0, stdout: fixture('rabbitmq-3.10/cluster_status.lab3-rabbit-stopped.json') };

/** The quorum queue read verify makes on a healthy cluster: one vhost, no quorum queues. */
const QUORUM_READ = [CMD.listVhosts, CMD.listQueueMembers('/')];

/** A seed that answers cluster_status with each reply in turn, repeating the last one; vhost `/` holds no queues. */
function seedAnswering(...replies: Reply[]) {
  const cluster = labCluster(3);
  let calls = 0;
  const shells = new RecordingShells(cluster.hosts, (host, command) => {
    if (host === 'lab1' && command === CMD.listVhosts) return { code: 0, stdout: '[{"name":"/"}]' };
    if (host === 'lab1' && command === CMD.listQueueMembers('/')) return { code: 0, stdout: '[]' };
    if (host !== 'lab1' || command !== STATUS) throw new Error(`unexpected ${host}: ${command}`);
    return replies[Math.min(calls++, replies.length - 1)];
  });
  const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });
  return { shells, ctx };
}

describe('rabbit:verify', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes a healthy cluster after one cluster_status and the quorum queue read on the seed', async () => {
    const { shells, ctx } = seedAnswering(CLEAN);

    const outcome = await declareStep(verify).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([STATUS, ...QUORUM_READ]);
    expect(outcome?.detail).toBe('3 running disk nodes, no alarms, no partitions');
    expect((outcome?.output as ClusterHealth).headline).toBe('healthy');
  });

  it('takes the quorum members quorum-members settled on the seed in this attempt: no second read', async () => {
    const { shells, ctx } = seedAnswering(CLEAN);
    const found = new Map<string, unknown>([
      ['rabbit:quorum-members', { reader: 'lab1', nodes: ['rabbit@lab3', 'rabbit@lab1', 'rabbit@lab2'] }],
    ]);

    await declareStep(verify).execute({ ...ctx, found });

    expect(shells.commandsOn('lab1')).toEqual([STATUS]);
  });

  it.each([
    ['another reader', { reader: 'lab2', nodes: ['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'] }],
    ['other nodes', { reader: 'lab1', nodes: ['rabbit@lab1', 'rabbit@lab2'] }],
    ['a shape it does not know', { reader: 'lab1' }],
  ])('reads the members itself when quorum-members settled them on %s', async (_, settled) => {
    const { shells, ctx } = seedAnswering(CLEAN);

    await declareStep(verify).execute({ ...ctx, found: new Map([['rabbit:quorum-members', settled]]) });

    expect(shells.commandsOn('lab1')).toEqual([STATUS, ...QUORUM_READ]);
  });

  it(
    'stops polling a cluster that has not settled as soon as the job is ' + 'cancelled, without another cluster_status',
    async () => {
      const cluster = labCluster(3);
      const controller = new AbortController();
      const shells = new RecordingShells(
        cluster.hosts,
        (host, command) => {
          if (host !== 'lab1' || command !== STATUS) throw new Error(`unexpected ${host}: ${command}`);
          return LAB3_STOPPED;
        },
        new Map(),
        { signal: controller.signal },
      );
      const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster), signal: controller.signal });
      setTimeout(() => controller.abort('operator'), 1500);
      const started = performance.now();

      await expect(declareStep(verify).execute(ctx)).rejects.toMatchObject({
        code: 'job.cancelled',
        message: "the job was cancelled: operator; reading demo's cluster_status again was not started",
      });

      expect(performance.now() - started).toBeLessThan(5_000);
      expect(shells.commandsOn('lab1')).toEqual([STATUS, STATUS]);
    },
  );

  it('passes the 4.x-shaped status as well', async () => {
    const { ctx } = seedAnswering({ code: 0, stdout: fixture('rabbitmq-4.x/cluster_status.4.0-shaped.json') });

    await expect(declareStep(verify).execute(ctx)).resolves.toMatchObject({
      detail: '3 running disk nodes, no alarms, no partitions',
    });
  });

  describe('with a node that settles late', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });

    it('polls once a second until the node shows up in running_nodes', async () => {
      const { shells, ctx } = seedAnswering(LAB3_STOPPED, LAB3_STOPPED, CLEAN);

      const running = declareStep(verify).execute(ctx);
      await vi.advanceTimersByTimeAsync(2_000);

      await expect(running).resolves.toMatchObject({ detail: '3 running disk nodes, no alarms, no partitions' });
      expect(shells.commandsOn('lab1')).toEqual([STATUS, STATUS, STATUS, ...QUORUM_READ]);
    });

    it('fails with verify.failed naming the node when it stays stopped past the deadline', async () => {
      const { shells, ctx } = seedAnswering(LAB3_STOPPED);

      const running = declareStep(verify).execute(ctx);
      const failed = expect(running).rejects.toMatchObject({
        code: 'verify.failed',
        host: 'lab1',
        retryable: true,
        message: 'cluster demo is degraded: rabbit@lab3 is stopped',
      });
      await vi.advanceTimersByTimeAsync(61_000);

      await failed;
      // One read a second for 60 s, plus the first: it gave the node the whole minute.
      expect(shells.commands.length).toBeGreaterThanOrEqual(60);
      expect(shells.commands.length).toBeLessThanOrEqual(62);
    });
  });

  it('fails on a partitioned cluster, with the partition in the message', async () => {
    vi.useFakeTimers();
    const { ctx } = seedAnswering({
      code: 0,
      stdout: fixture('rabbitmq-3.10/cluster_status.partitioned.lab1-view.json'),
    });

    const running = declareStep(verify).execute(ctx);
    const failed = expect(running).rejects.toMatchObject({
      code: 'verify.failed',
      message: expect.stringMatching(
        /^cluster demo is partitioned: .*rabbit@lab1 is partitioned from rabbit@lab3/,
      ) as unknown,
    });
    await vi.advanceTimersByTimeAsync(61_000);

    await failed;
  });

  it('fails at once, as unreachable, when RabbitMQ is not running on the seed', async () => {
    const { shells, ctx } = seedAnswering({
      code: 69,
      stderr: fixture('rabbitmq-3.10/cluster_status.on-stopped-node.exit69.txt'),
    });

    await expect(declareStep(verify).execute(ctx)).rejects.toMatchObject({
      code: 'status.unreachable',
      host: 'lab1',
      retryable: true,
      message: 'RabbitMQ is not running on lab1 (no Erlang VM)',
    });
    expect(shells.commands).toHaveLength(1);
  });

  it(
    'fails at once, as unreachable, when the seed runs its VM with the app ' + 'stopped (cluster_status exits 64)',
    async () => {
      const { shells, ctx } = seedAnswering({
        code: 64,
        stderr:
          "Error: this command requires the 'rabbit' app to be running on the " +
          "target node. Start it with 'rabbitmqctl start_app'.\n",
      });

      await expect(declareStep(verify).execute(ctx)).rejects.toMatchObject({
        code: 'status.unreachable',
        host: 'lab1',
        retryable: true,
        message: 'RabbitMQ is not running on lab1 (app stopped)',
      });
      expect(shells.commands).toHaveLength(1);
    },
  );

  it('fails at once on any other cluster_status failure, with the evidence', async () => {
    const { ctx } = seedAnswering({
      code: 70,
      stderr: 'Error: timed out while waiting for a response from rabbit@lab1.',
    });

    await expect(declareStep(verify).execute(ctx)).rejects.toMatchObject({
      code: 'command.failed',
      host: 'lab1',
      evidence: { exitCode: 70 },
    });
  });
});

describe('awaitHealthy', () => {
  it('returns the first reading when the deadline is zero', async () => {
    const { shells, ctx } = seedAnswering(LAB3_STOPPED, CLEAN);

    const health = await awaitHealthy(ctx, 0);

    expect(health.headline).toBe('degraded');
    expect(health.problems).toEqual(['rabbit@lab3 is stopped']);
    expect(shells.commands).toHaveLength(1);
  });
});

describe('expectedNodes', () => {
  it('maps each configured node name to its inventory host', () => {
    const cluster = labCluster(3, {}, (i) => (i === 2 ? { hostname: 'rabbit-c' } : {}));

    expect([...expectedNodes({ cluster })]).toEqual([
      ['rabbit@lab1', 'lab1'],
      ['rabbit@lab2', 'lab2'],
      ['rabbit@rabbit-c', 'lab3'],
    ]);
  });
});

describe('rabbit:verify on 4.3.6 (Khepri)', () => {
  const t4 = labCluster(3, {}, (i) => ({ hostname: `t4n${i + 1}` }));
  const ok = (stdout: string): Reply => ({ code: 0, stdout });

  function khepriSeed(answers: Record<string, Reply>) {
    const shells = new RecordingShells(t4.hosts, (host, command) => {
      const answer = host === 'lab1' ? answers[command] : undefined;
      if (!answer) throw new Error(`unexpected ${host}: ${command}`);
      return answer;
    });
    return { shells, ctx: stepContext(t4, shells, { facts: labFacts(t4, { rabbitmqVersion: '4.3.6' }) }).ctx };
  }

  it(
    'passes a formed cluster once the metadata store confirms the members ' + 'and every quorum queue is on every node',
    async () => {
      const { shells, ctx } = khepriSeed({
        [STATUS]: ok(fixture('rabbitmq-4.3/cluster_status.3nodes.json')),
        [CMD.metadataStoreStatus]: ok(fixture('rabbitmq-4.3/metadata_store_status.3nodes.json')),
        [CMD.listVhosts]: ok('[{"name":"/"}]'),
        [CMD.listQueueMembers('/')]: ok(fixture('rabbitmq-4.3/list_queues.after-grow.default-vhost.json')),
      });

      await expect(declareStep(verify).execute(ctx)).resolves.toMatchObject({
        detail: '3 running disk nodes, no alarms, no partitions',
      });
      expect(shells.commandsOn('lab1')).toEqual([STATUS, CMD.metadataStoreStatus, ...QUORUM_READ]);
    },
  );

  it('fails, naming the queues, when a node that joined has no replicas', async () => {
    const { ctx } = khepriSeed({
      [STATUS]: ok(fixture('rabbitmq-4.3/cluster_status.3nodes.json')),
      [CMD.metadataStoreStatus]: ok(fixture('rabbitmq-4.3/metadata_store_status.3nodes.json')),
      [CMD.listVhosts]: ok('[{"name":"/"}]'),
      [CMD.listQueueMembers('/')]: ok(fixture('rabbitmq-4.3/list_queues.after-rejoin-before-grow.default-vhost.json')),
    });

    await expect(declareStep(verify).execute(ctx)).rejects.toMatchObject({
      code: 'verify.failed',
      retryable: true,
      message: expect.stringContaining('quorum queue dq1 in vhost / has no replica on rabbit@t4n3') as unknown,
    });
  });

  it(
    'catches a forgotten node that started again as a standalone cluster ' +
      'by membership, whatever its exit codes said',
    async () => {
      vi.useFakeTimers();
      const { ctx } = khepriSeed({
        [STATUS]: ok(fixture('rabbitmq-4.3/cluster_status.t4n1-after-forgotten-node-started.json')),
      });

      const running = declareStep(verify).execute(ctx);
      const failed = expect(running).rejects.toMatchObject({
        code: 'verify.failed',
        message: 'cluster demo is degraded: rabbit@t4n3 is not a member of the cluster',
      });
      await vi.advanceTimersByTimeAsync(61_000);
      await failed;
    },
  );
});
