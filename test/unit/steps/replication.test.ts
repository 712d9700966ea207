import { describe, expect, it } from 'vitest';
import { effectiveReplication, replication } from '../../../src/steps/replication.js';
import { declareStep } from '../../../src/steps/step.js';
import { FakeRabbitLab } from '../../support/fake-rabbit-lab.js';
import type { NodeSetup } from '../../support/fake-rabbit-lab.js';
import { CMD } from '../../support/expected-commands.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';

const LIST_POLICIES = CMD.listPolicies;
const SET_POLICY = CMD.setRunbookPolicy;
const LIST_QUEUE_TYPES = CMD.listVhostQueueTypes;
const RUNBOOK_POLICY = { name: 'ha-all', pattern: '^(?!amq\\.).*', definition: { 'ha-mode': 'all' } };

function setUp(options: { replication?: string; haPolicyPattern?: string; version?: string; node?: NodeSetup } = {}) {
  const cluster = labCluster(3, {
    ...(options.replication ? { replication: options.replication } : {}),
    ...(options.haPolicyPattern ? { haPolicyPattern: options.haPolicyPattern } : {}),
  });
  const packageVersion = options.version ? `${options.version}-1` : undefined;
  const lab = FakeRabbitLab.formed(cluster.hosts, { ...(packageVersion ? { packageVersion } : {}), ...options.node });
  const shells = new RecordingShells(cluster.hosts, lab.respond);
  const facts = labFacts(cluster, options.version ? { rabbitmqVersion: options.version, packageVersion } : {});
  const { ctx } = stepContext(cluster, shells, { facts });
  return { lab, shells, ctx };
}

describe('rabbit:replication on 3.x', () => {
  it("sets the runbook's ha-all policy on the seed when it is missing", async () => {
    const { lab, shells, ctx } = setUp();

    const outcome = await declareStep(replication).execute(ctx);

    expect(shells.commands).toEqual([
      { host: 'lab1', command: LIST_POLICIES },
      { host: 'lab1', command: SET_POLICY },
    ]);
    expect(outcome?.detail).toBe('policy ha-all set: ^(?!amq\\.).* -> {"ha-mode":"all"}');
    expect(lab.node('lab2').policies).toEqual([RUNBOOK_POLICY]);
  });

  it('is skipped when the same policy is in place (definition printed as an object)', async () => {
    const { shells, ctx } = setUp({ node: { policies: [RUNBOOK_POLICY] } });

    const outcome = await declareStep(replication).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands).toEqual([{ host: 'lab1', command: LIST_POLICIES }]);
  });

  it('is skipped when the same policy is in place (definition printed as a JSON string)', async () => {
    const { shells, ctx } = setUp({ node: { policies: [RUNBOOK_POLICY], policyDefinitionAsString: true } });

    const outcome = await declareStep(replication).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands).toHaveLength(1);
  });

  it('sets the policy again when the pattern in place differs from the config', async () => {
    const { shells, ctx } = setUp({ node: { policies: [{ ...RUNBOOK_POLICY, pattern: '.*' }] } });

    await declareStep(replication).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([LIST_POLICIES, SET_POLICY]);
  });

  it('sets the policy again when an ha-all policy does something else', async () => {
    const { shells, ctx } = setUp({
      node: { policies: [{ ...RUNBOOK_POLICY, definition: { 'ha-mode': 'exactly', 'ha-params': 2 } }] },
    });

    await declareStep(replication).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([LIST_POLICIES, SET_POLICY]);
  });

  it('quotes a configured pattern as one argument', async () => {
    const { lab, shells, ctx } = setUp({ haPolicyPattern: "^(orders|it's)\\..*$" });

    await declareStep(replication).execute(ctx);

    expect(shells.commandsOn('lab1')[1]).toBe(
      `rabbitmqctl -q set_policy ha-all '^(orders|it'\\''s)\\..*$' '{"ha-mode":"all"}' </dev/null`,
    );
    expect(lab.node('lab1').policies[0]?.pattern).toBe("^(orders|it's)\\..*$");
  });

  it.each([
    [
      'text instead of JSON',
      'Listing policies for vhost "/" ...\n',
      /^list_policies on lab1 did not print JSON: Listing policies/,
    ],
    ['JSON of another shape', '{"policies":[]}', /^list_policies on lab1 has an unexpected shape: \(top\): /],
    [
      'a policy without a name',
      '[{"vhost":"/","pattern":".*","definition":{}}]',
      /^list_policies on lab1 has an unexpected shape: .*0\.name/,
    ],
  ])('fails with status.unparseable, naming the seed, when list_policies prints %s', async (_what, stdout, message) => {
    const cluster = labCluster(3);
    const lab = FakeRabbitLab.formed(cluster.hosts);
    const shells = new RecordingShells(cluster.hosts, (host, command, stdin) =>
      command === LIST_POLICIES ? { code: 0, stdout } : lab.respond(host, command, stdin),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    const run = declareStep(replication).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'status.unparseable',
      host: 'lab1',
      message: expect.stringMatching(message) as unknown,
    });
    expect(shells.matching(/set_policy/)).toEqual([]);
  });

  it('refuses quorum as the default on 3.10, before any command', async () => {
    const { shells, ctx } = setUp({ replication: 'quorum' });

    const run = declareStep(replication).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'replication.unsupported',
      message: 'RabbitMQ 3.10.8 cannot make quorum the default queue type (needs 3.11 or later)',
    });
    expect(shells.commands).toEqual([]);
  });

  it('does nothing for replication none', async () => {
    const { shells, ctx } = setUp({ replication: 'none' });

    const outcome = await declareStep(replication).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands).toEqual([]);
  });
});

describe('rabbit:replication on 4.x', () => {
  it('makes quorum the default queue type of every vhost that is not quorum yet', async () => {
    const { lab, shells, ctx } = setUp({
      version: '4.0.5',
      node: { vhosts: { '/': 'classic', billing: 'quorum', 'open stack': undefined } },
    });

    const outcome = await declareStep(replication).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([
      LIST_QUEUE_TYPES,
      CMD.setDefaultQuorum('/'),
      CMD.setDefaultQuorum("'open stack'"),
    ]);
    expect(outcome?.detail).toBe('default queue type quorum on /, open stack');
    expect(lab.node('lab3').vhosts).toEqual({ '/': 'quorum', billing: 'quorum', 'open stack': 'quorum' });
  });

  it('is skipped when every vhost already defaults to quorum', async () => {
    const { shells, ctx } = setUp({ version: '4.0.5', node: { vhosts: { '/': 'quorum' } } });

    const outcome = await declareStep(replication).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands).toEqual([{ host: 'lab1', command: LIST_QUEUE_TYPES }]);
  });

  it('refuses ha-all, which 4.x rejects, before any command', async () => {
    const { shells, ctx } = setUp({ version: '4.0.5', replication: 'ha-all' });

    await expect(declareStep(replication).execute(ctx)).rejects.toMatchObject({
      code: 'replication.unsupported',
      message: 'RabbitMQ 4.0.5 rejects classic mirroring (ha-mode)',
    });
    expect(shells.commands).toEqual([]);
  });
});

describe('effectiveReplication', () => {
  it.each([
    ['auto', '3.10.8', 'ha-all'],
    ['auto', '3.13.7', 'ha-all'],
    ['auto', '4.0.0', 'quorum'],
    ['auto', '4.1.2', 'quorum'],
    ['auto', undefined, 'ha-all'],
    ['quorum', '3.13.7', 'quorum'],
    ['none', '4.0.5', 'none'],
  ])('%s on %s is %s', (mode, version, expected) => {
    expect(effectiveReplication(labCluster(3, { replication: mode }), version)).toBe(expected);
  });
});
