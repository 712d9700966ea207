import { describe, expect, it } from 'vitest';
import { judgeMigration, migrationEffects } from '../../../src/gates/migration.js';
import { evaluateGates } from '../../../src/gates/evaluate.js';
import { buildMigrationPlan } from '../../../src/rabbit/quorum-migration.js';
import type { MigrationFacts } from '../../../src/rabbit/quorum-migration.js';
import { migrationBlocks } from '../../../src/slack/messages/migration-blocks.js';
import { renderMigration } from '../../../src/cli/render.js';

const running = [
  { host: 'lab1', reach: 'running' },
  { host: 'lab2', reach: 'running' },
];
const HOSTILE = '<!channel> *now* `x`\u001b[31m';
const facts = (version: string, consumers = 0): MigrationFacts => ({
  cluster: 'demo',
  readFrom: 'lab1',
  rabbitmqVersion: version,
  vhosts: [
    {
      name: '/',
      defaultQueueType: 'classic',
      policies: [{ name: 'ha-all', pattern: '.*', definition: { 'ha-mode': 'all' } }],
      queues: [
        { name: HOSTILE, type: 'classic', messages: 7, consumers },
        { name: 'qq', type: 'quorum', messages: 1, consumers: 0 },
      ],
    },
  ],
});

describe('judgeMigration', () => {
  it('migrate: allowed with every node running; the effects name each change and the classic queues that stay', () => {
    const plan = buildMigrationPlan(facts('3.10.8'));
    const judged = judgeMigration('cluster.migrate-to-quorum', 'demo', running, plan);
    expect(judged.checks.map((c) => [c.id, c.ok])).toEqual([
      ['node.reachable', true],
      ['migration.supported', true],
    ]);
    expect(judged.wipes).toEqual(migrationEffects(plan));
    expect(judged.wipes).toEqual([
      'vhost /: policy ha-all (ha-mode) cleared',
      'vhost /: default queue type classic -> quorum',
      `vhost /: 1 classic queue(s) stay (not deleted): / ${JSON.stringify(HOSTILE)} (7 message(s))`,
    ]);
    expect(judged.classicQueues).toBeUndefined();
  });

  it('refuses with a node down, with no member readable, and before 3.10 when a default is to be set', () => {
    const plan = buildMigrationPlan(facts('3.10.8'));
    const down = judgeMigration(
      'cluster.migrate-to-quorum',
      'demo',
      [...running, { host: 'lab3', reach: 'vm-down' }],
      plan,
    );
    expect(down.checks[0]).toMatchObject({ id: 'node.reachable', ok: false, detail: 'lab3 (vm-down) not running' });
    expect(judgeMigration('cluster.delete-classic-queues', 'demo', running, undefined).checks[0].ok).toBe(false);
    const old = judgeMigration('cluster.migrate-to-quorum', 'demo', running, buildMigrationPlan(facts('3.9.29')));
    expect(old.checks[1]).toMatchObject({ id: 'migration.supported', ok: false });
  });

  it('delete: names exactly the classic queues without consumers; refuses when all have consumers', () => {
    const ok = judgeMigration('cluster.delete-classic-queues', 'demo', running, buildMigrationPlan(facts('4.3.6')));
    expect(ok.classicQueues).toEqual([{ vhost: '/', name: HOSTILE, messages: 7, consumers: 0 }]);
    expect(ok.wipes).toEqual([`deleted with its messages: / ${JSON.stringify(HOSTILE)} (7 message(s))`]);
    const busy = judgeMigration(
      'cluster.delete-classic-queues',
      'demo',
      running,
      buildMigrationPlan(facts('4.3.6', 2)),
    );
    expect(busy.classicQueues).toEqual([]);
    expect(busy.checks[1]).toMatchObject({ id: 'queues.deletable', ok: false });
    expect(busy.checks[1].remedy).toMatch(/Stop the services consuming/);
  });

  it('evaluateGates carries the plan and the queues in the report, for the card, the terminal and the job', () => {
    const migration = buildMigrationPlan(facts('4.0.5'));
    const report = evaluateGates({
      operation: 'cluster.delete-classic-queues',
      cluster: 'demo',
      members: running.map((m) => ({ ...m, nodeName: `rabbit@${m.host}`, reach: 'running' as const })),
      view: { readFrom: 'lab1', disk: ['rabbit@lab1', 'rabbit@lab2'], running: ['rabbit@lab1', 'rabbit@lab2'] },
      migration,
    });
    expect(report.allowed).toBe(true);
    expect(report.migration).toEqual(migration);
    expect(report.classicQueues).toHaveLength(1);
  });
});

describe('rendering the plan of hostile names', () => {
  const report = evaluateGates({
    operation: 'cluster.migrate-to-quorum',
    cluster: 'demo',
    members: running.map((m) => ({ ...m, nodeName: `rabbit@${m.host}`, reach: 'running' as const })),
    view: { readFrom: 'lab1', disk: [], running: ['rabbit@lab1', 'rabbit@lab2'] },
    migration: buildMigrationPlan(facts('3.10.8')),
  });

  it('Slack: every name escaped (no mention, no markup reaches the card), the oslo.messaging settings listed', () => {
    const text = JSON.stringify(migrationBlocks(report));
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).not.toContain('\u001b');
    expect(text).toContain('rabbit_quorum_queue = true');
    expect(text).toContain('oslo.messaging 14.7.0 (2024.1 Caracal), RabbitMQ 3.9+');
  });

  it('terminal: no control character, names JSON-quoted, the oslo.messaging settings with their versions', () => {
    const text = renderMigration(report);
    expect(text).not.toContain('\u001b');
    expect(text).toContain('vhost "/": default queue type classic -> quorum');
    expect(text).toContain('policy "ha-all" (pattern ".*"): cleared');
    expect(text).toMatch(/✓ rabbit_transient_quorum_queue = true\s+oslo\.messaging 14\.7\.0/);
  });
});
