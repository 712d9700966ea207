import { describe, expect, it } from 'vitest';
import { isWarrenError } from '../../../src/errors.js';
import { compatibility, formationProblem } from '../../../src/steps/compatibility.js';
import type { NodeRelease } from '../../../src/steps/compatibility.js';
import { declareStep } from '../../../src/steps/step.js';
import { fixture } from '../../support/fixtures.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import type { Reply } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';

const FLAGS =
  'if command -v pgrep >/dev/null && ! pgrep -x beam.smp >/dev/null; ' +
  'then exit 69; fi; rabbitmqctl -q list_feature_flags --formatter json ' +
  'name state stability </dev/null';

const node = (host: string, rabbitmqVersion: string, metadataStore?: 'mnesia' | 'khepri'): NodeRelease => ({
  host,
  node: `rabbit@${host}`,
  rabbitmqVersion,
  ...(metadataStore ? { metadataStore } : {}),
});

describe('formationProblem (which nodes RabbitMQ can cluster)', () => {
  it('accepts one release series, patch levels apart', () => {
    expect(formationProblem(node('lab1', '4.0.5'), [node('lab2', '4.0.9'), node('lab3', '4.0.5')])).toBeUndefined();
    expect(formationProblem(node('lab1', '3.10.8'), [node('lab2', '3.10.8')])).toBeUndefined();
  });

  it('refuses a 3.10 joiner of a 4.0 seed, naming each node, its version and what to do', () => {
    const problem = formationProblem(node('lab1', '4.0.5', 'mnesia'), [
      node('lab2', '4.0.5', 'mnesia'),
      node('lab3', '3.10.8', 'mnesia'),
    ]);
    expect(problem?.code).toBe('preflight.incompatible_nodes');
    expect(problem?.host).toBe('lab3');
    expect(problem?.message).toBe(
      'RabbitMQ cannot form cluster from these nodes: the seed lab1 ' +
        '(rabbit@lab1) runs RabbitMQ 4.0.5 with Mnesia; lab3 (rabbit@lab3) ' +
        'runs RabbitMQ 3.10.8 with Mnesia. RabbitMQ 3.x and 4.x nodes refuse ' +
        'to join each other (exit 69, incompatible feature flags). Nothing was ' +
        'changed.',
    );
    expect(problem?.hint).toBe(
      "Install RabbitMQ 4.0.x (the seed's series) on lab3, or build the " +
        'cluster from nodes that all run 3.10.x with another seed; then run ' +
        'the create again.',
    );
  });

  it('refuses 4.x joiners of a 3.10 seed', () => {
    const problem = formationProblem(node('lab1', '3.10.8'), [node('lab2', '4.0.5'), node('lab3', '4.3.6', 'khepri')]);
    expect(problem?.message).toMatch(
      /the seed lab1 \(rabbit@lab1\) runs RabbitMQ 3\.10\.8; lab2 \(rabbit@lab2\) runs RabbitMQ 4\.0\.5; lab3 \(rabbit@lab3\) runs RabbitMQ 4\.3\.6 with Khepri\. RabbitMQ 3\.x and 4\.x/,
    );
  });

  it('refuses a 4.3 joiner of a 4.0 seed and says it would leave a ghost member', () => {
    const problem = formationProblem(node('lab1', '4.0.5', 'mnesia'), [node('lab2', '4.3.6', 'khepri')]);
    expect(problem?.message).toMatch(
      /different release series refuse to join each other \(exit 69\), and a newer 4\.x node joining a 4\.0 cluster leaves a ghost member/,
    );
  });

  it('refuses a 4.0 joiner (with Khepri or not) of a 4.3 seed', () => {
    const problem = formationProblem(node('lab1', '4.3.6', 'khepri'), [node('lab2', '4.0.5', 'khepri')]);
    expect(problem?.message).toMatch(
      /lab2 \(rabbit@lab2\) runs RabbitMQ 4\.0\.5 with Khepri\. Nodes of different release series refuse/,
    );
    expect(problem?.message).not.toMatch(/ghost/);
  });
});

describe('rabbit:compatibility', () => {
  function setUp(
    versions: Record<string, string>,
    reply: (host: string) => Reply = () => ({ code: 0, stdout: fixture('rabbitmq-4.0/list_feature_flags.json') }),
  ) {
    const cluster = labCluster(3);
    const shells = new RecordingShells(cluster.hosts, (host, command) =>
      command === FLAGS ? reply(host) : { code: 127, stderr: `unexpected: ${command}` },
    );
    const facts = labFacts(cluster);
    for (const [host, version] of Object.entries(versions))
      facts.set(host, { ...facts.get(host)!, rabbitmqVersion: version, packageVersion: `${version}-1` });
    const { ctx } = stepContext(cluster, shells, { facts });
    return { shells, ctx, facts };
  }

  it('asks nothing on 3.10 (Mnesia) and on 4.3 (Khepri is required): the version settles it', async () => {
    const { shells, ctx, facts } = setUp({ lab1: '4.3.6', lab2: '4.3.6', lab3: '4.3.6' });
    const outcome = await declareStep(compatibility).execute(ctx);
    expect(shells.commands).toEqual([]);
    expect(outcome?.detail).toBe('RabbitMQ 4.3.6 on every node (series 4.3), metadata store Khepri');
    expect(facts.get('lab2')?.metadataStore).toBe('khepri');

    const old = setUp({});
    expect((await declareStep(compatibility).execute(old.ctx))?.detail).toBe(
      'RabbitMQ 3.10.8 on every node (series 3.10), metadata store Mnesia',
    );
    expect(old.shells.commands).toEqual([]);
  });

  it('asks a running 4.0 node its feature flags (real 4.0.5 output: Mnesia); a stopped one stays unknown', async () => {
    const { shells, ctx, facts } = setUp({ lab1: '4.0.5', lab2: '4.0.5', lab3: '4.0.5' }, (host) =>
      host === 'lab3' ? { code: 69 } : { code: 0, stdout: fixture('rabbitmq-4.0/list_feature_flags.json') },
    );
    const outcome = await declareStep(compatibility).execute(ctx);
    expect(shells.commands.map((c) => c.host).sort()).toEqual(['lab1', 'lab2', 'lab3']);
    expect(outcome?.detail).toBe('RabbitMQ 4.0.5 on every node (series 4.0), metadata store Mnesia / not known yet');
    expect(facts.get('lab1')?.metadataStore).toBe('mnesia');
    expect(facts.get('lab3')?.metadataStore).toBeUndefined();
  });

  it('refuses a 4.0 seed with a 4.3 joiner before anything else runs', async () => {
    const { shells, ctx } = setUp({ lab1: '4.0.5', lab2: '4.0.5', lab3: '4.3.6' });
    const failure = await declareStep(compatibility)
      .execute(ctx)
      .catch((e: unknown) => e);
    expect(isWarrenError(failure) && failure.code).toBe('preflight.incompatible_nodes');
    expect(shells.commands.every((c) => c.command === FLAGS)).toBe(true);
  });
});
