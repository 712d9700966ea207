import { describe, expect, it } from 'vitest';
import { WarrenError } from '../../../src/errors.js';
import { declareStep } from '../../../src/steps/step.js';
import { installedVersionOf, parseProbe, preflight } from '../../../src/steps/preflight.js';
import { FakeRabbitLab } from '../../support/fake-rabbit-lab.js';
import type { NodeSetup } from '../../support/fake-rabbit-lab.js';
import { CMD } from '../../support/expected-commands.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import { stepContext } from '../../support/step-context.js';

const PROBE = CMD.probe;

function setUp(
  setups: Record<string, NodeSetup> = {},
  cluster = labCluster(3),
  refuse = new Map<string, WarrenError>(),
) {
  const lab = new FakeRabbitLab(cluster.hosts, setups);
  const shells = new RecordingShells(cluster.hosts, lab.respond, refuse);
  const { ctx, reports } = stepContext(cluster, shells);
  return { lab, shells, ctx, reports };
}

describe('rabbit:preflight', () => {
  it('probes every node once, asking it to resolve its peers by short hostname', async () => {
    const { shells, ctx } = setUp();

    await declareStep(preflight).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([PROBE('lab2 lab3')]);
    expect(shells.commandsOn('lab2')).toEqual([PROBE('lab1 lab3')]);
    expect(shells.commandsOn('lab3')).toEqual([PROBE('lab1 lab2')]);
  });

  it("records each node's facts for the later steps", async () => {
    const { ctx } = setUp({ lab2: { init: 'systemd' }, lab3: { packageVersion: null } });

    const outcome = await declareStep(preflight).execute(ctx);

    expect(ctx.facts.get('lab1')).toEqual({
      host: 'lab1',
      nodeName: 'rabbit@lab1',
      serviceManager: 'sysv',
      packageVersion: '3.10.8-1.1+deb12u1',
      rabbitmqVersion: '3.10.8',
      erlangVersion: '25.2.3',
    });
    expect(ctx.facts.get('lab2')).toMatchObject({ serviceManager: 'systemd' });
    expect(ctx.facts.get('lab3')).toEqual({ host: 'lab3', nodeName: 'rabbit@lab3', serviceManager: 'sysv' });
    expect(outcome?.detail).toBe('3 nodes reachable, RabbitMQ 3.10.8');
  });

  it('lets the config override the detected service manager', async () => {
    const cluster = labCluster(3, {}, (i) => (i === 1 ? { serviceManager: 'systemd' } : {}));
    const { ctx } = setUp({}, cluster);

    await declareStep(preflight).execute(ctx);

    expect(ctx.facts.get('lab2')?.serviceManager).toBe('systemd');
  });

  it('reports each host running, then done with what it found', async () => {
    const { ctx, reports } = setUp();

    await declareStep(preflight).execute(ctx);

    const lab2 = reports.filter((r) => r.host === 'lab2');
    expect(lab2.map((r) => r.state)).toEqual(['running', 'done']);
    expect(lab2[1]?.detail).toBe('rabbit@lab2, RabbitMQ 3.10.8, Erlang 25.2.3, sysv');
  });

  it('refuses a node whose hostname is not the one its node name uses', async () => {
    const { ctx } = setUp({ lab2: { hostname: 'rabbit-old' } });

    const run = declareStep(preflight).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'preflight.hostname_mismatch',
      host: 'lab2',
      message: 'lab2 calls itself "rabbit-old", but its node name would be rabbit@lab2',
      hint: 'Set hosts[].hostname to "rabbit-old" for lab2, or rename the host to lab2.',
    });
  });

  it('refuses a node that rabbitmq-env.conf names rabbit@localhost, naming the file to fix', async () => {
    const { ctx } = setUp({ lab2: { envNodeName: 'rabbit@localhost' } });

    const run = declareStep(preflight).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'preflight.nodename_mismatch',
      host: 'lab2',
      retryable: false,
      message:
        "lab2's RabbitMQ is named rabbit@localhost by " +
        '/etc/rabbitmq/rabbitmq-env.conf, but its node name must be rabbit@lab2',
    });
    await expect(run).rejects.toMatchObject({
      hint: expect.stringContaining(
        'Remove the NODENAME (or RABBITMQ_NODENAME) line from /etc/rabbitmq/rabbitmq-env.conf on lab2',
      ) as unknown,
    });
  });

  it('completes a NODENAME without a host with the short hostname, and accepts one that matches', async () => {
    const { ctx } = setUp({ lab2: { envNodeName: 'rabbit' }, lab3: { envNodeName: 'rabbit@lab3' } });

    await declareStep(preflight).execute(ctx);

    expect(ctx.facts.get('lab2')?.nodeName).toBe('rabbit@lab2');
  });

  it('refuses a bare NODENAME that is not rabbit', async () => {
    const { ctx } = setUp({ lab3: { envNodeName: 'hare' } });

    await expect(declareStep(preflight).execute(ctx)).rejects.toMatchObject({
      code: 'preflight.nodename_mismatch',
      message: expect.stringContaining('named hare@lab3') as unknown,
    });
  });

  it('accepts a hostname that differs from the inventory name when the config says so', async () => {
    const cluster = labCluster(3, {}, (i) => (i === 1 ? { hostname: 'rabbit-b' } : {}));
    const { shells, ctx } = setUp({ lab2: { hostname: 'rabbit-b' } }, cluster);

    await declareStep(preflight).execute(ctx);

    expect(ctx.facts.get('lab2')?.nodeName).toBe('rabbit@rabbit-b');
    expect(shells.commandsOn('lab1')).toEqual([PROBE('rabbit-b lab3')]);
  });

  it('refuses a node that cannot resolve a peer, naming the peer', async () => {
    const { ctx } = setUp({ lab3: { unresolved: ['lab1'] } });

    const run = declareStep(preflight).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'preflight.unresolvable_peer',
      host: 'lab3',
      message: 'lab3 cannot resolve lab1',
    });
  });

  it('reports the failing host as failed and lets the others finish', async () => {
    const { ctx, reports } = setUp({ lab3: { unresolved: ['lab1', 'lab2'] } });

    await declareStep(preflight)
      .execute(ctx)
      .catch(() => undefined);

    expect(reports.find((r) => r.host === 'lab3' && r.state === 'failed')?.detail).toBe(
      'lab3 cannot resolve lab1, lab2',
    );
    expect(
      reports
        .filter((r) => r.state === 'done')
        .map((r) => r.host)
        .sort(),
    ).toEqual(['lab1', 'lab2']);
  });

  it('runs no command anywhere when one host presents an unknown key', async () => {
    const refused = new WarrenError(
      'ssh.host_key_mismatch',
      'lab3 (10.213.0.13:22) presented host key SHA256:xyz, which is not the key pinned in the config',
      { host: 'lab3' },
    );
    const { shells, ctx } = setUp({}, labCluster(3), new Map([['lab3', refused]]));

    const run = declareStep(preflight).execute(ctx);

    await expect(run).rejects.toBe(refused);
    expect(shells.commands).toEqual([]);
  });
});

describe('parseProbe', () => {
  it.each([
    ['nothing', '', 'hostname'],
    ['a shell error instead of key=value lines', 'sh: 1: hostname: not found\n', 'hostname'],
    ['a probe cut off after the hostname', 'hostname=lab1\n', 'init'],
  ])('refuses %s as status.unparseable, naming the host and what is missing', (_what, stdout, missing) => {
    let thrown: unknown;
    try {
      parseProbe(stdout, 'lab2');
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(WarrenError);
    expect(thrown).toMatchObject({
      code: 'status.unparseable',
      host: 'lab2',
      hint: expect.stringContaining('lab2') as unknown,
    });
    expect((thrown as WarrenError).message).toMatch(
      /^the preflight probe on lab2 printed something unexpected \(missing .*\)$/,
    );
    expect((thrown as WarrenError).message).toContain(missing);
  });

  it('fails the preflight of a host whose probe prints garbage, naming that host', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts);
    const shells = new RecordingShells(cluster.hosts, (host, command, stdin) =>
      host === 'lab3' ? { code: 0, stdout: 'Welcome to lab3!\n' } : lab.respond(host, command, stdin),
    );
    const { ctx, reports } = stepContext(cluster, shells);

    await expect(declareStep(preflight).execute(ctx)).rejects.toMatchObject({
      code: 'status.unparseable',
      host: 'lab3',
    });
    expect(reports.find((r) => r.host === 'lab3' && r.state === 'failed')?.detail).toMatch(
      /^the preflight probe on lab3 printed something unexpected/,
    );
  });

  it('collects repeated resolves/unresolved keys and keeps "=" inside values', () => {
    const probe = parseProbe(
      'hostname=lab1\ninit=systemd\nrabbitmq=install ok ' +
        'installed|3.10.8-1\nerlang=\nresolves=lab2\nunresolved=lab3\nresolves=lab4\nnoise ' +
        'without equals\n',
    );

    expect(probe).toEqual({
      hostname: 'lab1',
      init: 'systemd',
      rabbitmq: 'install ok installed|3.10.8-1',
      erlang: '',
      nodename: '',
      resolves: ['lab2', 'lab4'],
      unresolved: ['lab3'],
    });
  });
});

describe('installedVersionOf', () => {
  it.each([
    ['install ok installed|3.10.8-1.1+deb12u1', '3.10.8-1.1+deb12u1'],
    ['deinstall ok config-files|3.10.8-1.1+deb12u1', undefined],
    ['install ok unpacked|3.10.8-1.1+deb12u1', undefined],
    ['', undefined],
    ['install ok installed|', undefined],
  ])('reads %j as %s', (line, version) => {
    expect(installedVersionOf(line)).toBe(version);
  });
});
