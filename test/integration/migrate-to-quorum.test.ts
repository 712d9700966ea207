/**
 * `warren cluster migrate-to-quorum` and `cluster delete-classic-queues` on real RabbitMQ 3.10.8, 4.0.5 and 4.3.6
 * nodes: one lab of three hosts (lab `mq`, one per release), each a one-node cluster, the three run side by side.
 * 3.10.8 has mirroring policies (one of only ha-* keys, one with a message-ttl too); every version has classic queues
 * with messages (on 4.x: a cluster upgraded off mirroring), one with a consumer, one with a name a shell would
 * misread. Queues are declared and filled over AMQP (amqplib); the cluster is checked through the lab's backdoor,
 * not through warren. Needs root. Run: flock /tmp/warren-labslot-1.lock npx vitest run
 * test/integration/migrate-to-quorum.test.ts
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { checkSafetyGates } from '../../src/gates/check.js';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import { MaintenanceResult } from '../../src/operations/schema.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { startHarness } from './harness.js';
import type { Harness } from './harness.js';

const exec = promisify(execFile);
const CLI = 'dist/src/cli/bin.js';
const NAME = 'mq';
const CLUSTERS = { mq310: 1, mq40: 2, mq43: 3 } as const;
type Cluster = keyof typeof CLUSTERS;
const VERSION: Record<Cluster, string> = { mq310: '3.10.8', mq40: '4.0.5', mq43: '4.3.6' };
const TENANT = 'tenant a';
/**
 * A queue name with a space, quotes, `$`, a backquote and a leading dash: quoted for the shell, shown escaped (Debian's
 * rabbitmqctl wrapper, run as root, would expand `$x`: warren runs it as rabbitmq).
 */
const ODD = `-odd 'q' "$x" \`id\``;
const USER = 'mqtest';
const PASS = 'mqtest-pass';

interface Queue {
  name: string;
  type: string;
  messages: number;
  consumers: number;
}

describe('migrate-to-quorum and delete-classic-queues on 3.10.8, 4.0.5 and 4.3.6 (lab mq)', () => {
  let lab: Lab;
  let harness: Harness;
  let config: WarrenConfig;
  let configPath: string;
  const connections = new Map<string, ChannelModel>();
  const channels = new Map<string, ConfirmChannel>();

  const warren = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await exec(
        'node',
        [CLI, '--config', configPath, '--prefix', harness.prefix, ...args],
        { timeout: 120_000, env: { ...process.env, LOG_LEVEL: 'warn' } },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  /** Through the backdoor: the node's own answer, as JSON. */
  const ctl = async <T>(c: Cluster, args: string): Promise<T> => {
    const r = await lab.exec(CLUSTERS[c], `rabbitmqctl -q ${args} --formatter json </dev/null`);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const queues = (c: Cluster, vhost: string) =>
    ctl<Queue[]>(c, `list_queues --vhost '${vhost}' name type messages consumers`).then((qs) =>
      qs.sort((a, b) => a.name.localeCompare(b.name)),
    );
  const classic = async (c: Cluster, vhost: string) =>
    (await queues(c, vhost)).filter((q) => q.type === 'classic').map((q) => [q.name, q.messages, q.consumers]);
  const policies = (c: Cluster, vhost: string) =>
    ctl<{ name: string; definition: string | Record<string, unknown> }[]>(c, `list_policies --vhost '${vhost}'`).then(
      (ps) =>
        ps.map((p) => ({
          name: p.name,
          definition: typeof p.definition === 'string' ? (JSON.parse(p.definition) as unknown) : p.definition,
        })),
    );
  const channel = async (c: Cluster, vhost: string): Promise<ConfirmChannel> => {
    const key = `${c}/${vhost}`;
    const open = channels.get(key);
    if (open) return open;
    const host = lab.hosts[CLUSTERS[c] - 1];
    const connection = await amqp.connect(`amqp://${USER}:${PASS}@${host.address}:5672/${encodeURIComponent(vhost)}`);
    connections.set(key, connection);
    const ch = await connection.createConfirmChannel();
    channels.set(key, ch);
    return ch;
  };
  /** A durable classic queue with `messages` confirmed messages in it. */
  const fill = async (c: Cluster, vhost: string, queue: string, messages: number): Promise<void> => {
    const ch = await channel(c, vhost);
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    for (let i = 0; i < messages; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
  };

  beforeAll(async () => {
    await exec('npm', ['run', '-s', 'build']);
    lab = await labUp(3, { name: NAME, releases: ['machine', 'trixie', 'forky'] });
    const labConfig = await loadConfig(lab.configPath);
    const clusters = Object.entries(CLUSTERS).map(([name, i]) => ({
      name,
      nodes: [`${NAME}${i}`],
      seed: `${NAME}${i}`,
    }));
    configPath = join(lab.dir, 'migrate.yaml');
    await writeFile(configPath, stringify({ ...labConfig, clusters }));
    config = await loadConfig(configPath);
    harness = await startHarness(config);
    await Promise.all(
      (Object.keys(CLUSTERS) as Cluster[]).map(async (c) => {
        const i = CLUSTERS[c];
        const setup = [
          `rabbitmqctl -q add_user ${USER} ${PASS}`,
          `rabbitmqctl -q add_vhost '${TENANT}'`,
          `rabbitmqctl -q set_permissions -p / ${USER} '.*' '.*' '.*'`,
          `rabbitmqctl -q set_permissions -p '${TENANT}' ${USER} '.*' '.*' '.*'`,
          ...(c === 'mq310'
            ? [
                `rabbitmqctl -q set_policy ha-all '.*' '{"ha-mode":"all"}'`,
                `rabbitmqctl -q set_policy -p '${TENANT}' --priority 3 --apply-to queues ha-ttl '^t\\.' ` +
                  `'{"ha-mode":"exactly","ha-params":2,"message-ttl":600000}'`,
              ]
            : []),
        ].map((cmd) => `${cmd} </dev/null`);
        const r = await lab.exec(i, setup.join(' && '));
        expect(r.code, r.stderr).toBe(0);
        await fill(c, '/', 'q.keep', 3);
        await fill(c, '/', ODD, 2);
        await fill(c, '/', 'q.grow', 1);
        await fill(c, '/', 'q.busy', 1);
        await fill(c, TENANT, 't.q', 4);
        await (await channel(c, '/')).consume('q.busy', () => undefined, { noAck: false });
      }),
    );
  }, 300_000);

  afterAll(async () => {
    for (const connection of connections.values()) await connection.close().catch(() => undefined);
    await harness?.close();
    await lab?.down();
  }, 120_000);

  it('migrate: the plan first (read-only), then policies gone and quorum the default, no queue deleted', async () => {
    await Promise.all(
      (Object.keys(CLUSTERS) as Cluster[]).map(async (c) => {
        const dry = await warren('cluster', 'migrate-to-quorum', c, '--dry-run');
        expect(dry.code, dry.stderr).toBe(0);
        expect(dry.stdout).toContain(`migration plan of ${c} (RabbitMQ ${VERSION[c]}`);
        expect(dry.stdout).toMatch(/rabbit_quorum_queue = true\s+oslo\.messaging 12\.13\.0 \(Yoga\), RabbitMQ 3\.8\+/);
        expect(dry.stdout).toMatch(/✓ rabbit_stream_fanout = true\s+oslo\.messaging 14\.7\.0/);
        expect(dry.stdout).toContain('rabbit_transient_quorum_queue = true');
        expect(dry.stdout).toContain(`${JSON.stringify(ODD)}  2 message(s)`);
        expect(dry.stdout).toContain('"q.busy"  1 message(s), 1 consumer(s)');
        expect(dry.stdout).toContain(`vhost "${TENANT}": default queue type`);
        if (c === 'mq310') {
          expect(dry.stdout).toContain('vhost "/": default queue type undefined -> quorum');
          expect(dry.stdout).toContain('policy "ha-all" (pattern ".*"): cleared');
          expect(dry.stdout).toContain('policy "ha-ttl" (pattern "^t\\\\."): set again without ha-mode, ha-params');
          // 3.10.8 lacks update_vhost_metadata: the dry run shows the command it has
          expect(dry.stdout).toContain('rabbitmqctl -q eval');
        } else expect(dry.stdout).toContain('vhost "/": default queue type classic -> quorum');
        // the dry run changed nothing (without --yes the terminal takes the same path: plan and gates only)
        if (c === 'mq310') expect((await policies(c, '/')).map((p) => p.name)).toEqual(['ha-all']);
        expect(
          (await ctl<{ default_queue_type: string }[]>(c, 'list_vhosts name default_queue_type')).map(
            (v) => v.default_queue_type,
          ),
        ).not.toContain('quorum');

        const run = await warren('cluster', 'migrate-to-quorum', c, '--yes');
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect(run.stdout).toMatch(/classic queue\(s\) remain/);
        expect(run.stdout).toContain('cluster delete-classic-queues');
        // the node's own answers: no ha-* key anywhere, the other keys of ha-ttl kept, quorum on every vhost
        // (4.x refuses ha-* keys in any policy: only 3.10.8 can have had them)
        if (c === 'mq310') {
          expect(await policies(c, '/')).toEqual([]);
          expect(await policies(c, TENANT)).toEqual([{ name: 'ha-ttl', definition: { 'message-ttl': 600000 } }]);
        }
        const vhosts = await ctl<{ name: string; default_queue_type: string }[]>(
          c,
          'list_vhosts name default_queue_type',
        );
        expect(vhosts.map((v) => [v.name, v.default_queue_type]).sort()).toEqual([
          ['/', 'quorum'],
          [TENANT, 'quorum'],
        ]);
        // nothing deleted: every classic queue is there with its messages
        expect(await classic(c, '/')).toEqual([
          [ODD, 2, 0],
          ['q.busy', 1, 1],
          ['q.grow', 1, 0],
          ['q.keep', 3, 0],
        ]);
        // a queue declared now without a type is a quorum queue (the default is honoured, 3.10.8 too)
        await (await channel(c, TENANT)).assertQueue('after.migrate', { durable: true });
        expect((await queues(c, TENANT)).map((q) => [q.name, q.type, q.messages])).toEqual([
          ['after.migrate', 'quorum', 0],
          ['t.q', 'classic', 4],
        ]);
      }),
    );
  }, 240_000);

  it('delete: only the queues shown, each kept if it changed since; --yes deletes what it shows', async () => {
    await Promise.all(
      (Object.keys(CLUSTERS) as Cluster[]).map(async (c) => {
        // no --yes: shown and asked, nothing deleted
        const asked = await warren('cluster', 'delete-classic-queues', c);
        expect(asked.code).toBe(2);
        expect(asked.stdout).toContain(`deleted with its messages: / ${JSON.stringify(ODD)} (2 message(s))`);
        expect(asked.stdout).toMatch(/kept \(consumers must stop first\): \/ "q\.busy"/);

        // what an approval card would show, read by the real gates (all four still there, with their messages)
        const report = await checkSafetyGates(config, { operation: 'cluster.delete-classic-queues', cluster: c });
        expect(report.allowed).toBe(true);
        expect(report.classicQueues).toEqual([
          { vhost: '/', name: ODD, messages: 2, consumers: 0 },
          { vhost: '/', name: 'q.grow', messages: 1, consumers: 0 },
          { vhost: '/', name: 'q.keep', messages: 3, consumers: 0 },
          { vhost: TENANT, name: 't.q', messages: 4, consumers: 0 },
        ]);
        // between the card and the approval: q.grow gets a message, q.new appears
        await fill(c, '/', 'q.grow', 1);
        await fill(c, '/', 'q.new', 1);
        const queued = await enqueueOperation(harness.queue, harness.redis, {
          operation: 'cluster.delete-classic-queues',
          cluster: c,
          options: { allowWipe: false, classicQueues: report.classicQueues ?? [] },
          origin: { kind: 'cli', user: 'test' },
          authorization: { kind: 'cli-yes', user: 'test' },
          requestedAt: new Date().toISOString(),
        });
        expect(queued.status).toBe('queued');
        const { final } = await harness.waitForEnd(queued.jobId, 120_000);
        expect(final.state, JSON.stringify(final)).toBe('completed');
        const result = MaintenanceResult.parse(final.result);
        expect(result.warnings, c).toEqual([
          'kept / "q.grow" (1 message(s)): got messages since it was shown (1 -> 2)',
          '2 classic queue(s) not shown were left alone: / "q.busy" (1 message(s), 1 consumer(s)), ' +
            '/ "q.new" (1 message(s))',
        ]);
        expect(result.summary).toBe(`${c}: 3 classic queue(s) deleted, 1 kept, 2 not shown left alone`);
        expect(await classic(c, '/')).toEqual([
          ['q.busy', 1, 1],
          ['q.grow', 2, 0],
          ['q.new', 1, 0],
        ]);
        expect(await classic(c, TENANT)).toEqual([]);

        // the terminal's --yes: shows the queues, deletes exactly those, keeps the one with a consumer
        const run = await warren('cluster', 'delete-classic-queues', c, '--yes');
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect(run.stdout).toContain('deletes exactly these 2 queue(s)');
        expect(run.stdout).toContain('"/" "q.grow"  2 message(s)');
        expect(await classic(c, '/')).toEqual([['q.busy', 1, 1]]);
        // quorum queues are never touched
        expect((await queues(c, TENANT)).map((q) => [q.name, q.type])).toEqual([['after.migrate', 'quorum']]);
      }),
    );
  }, 240_000);
});
