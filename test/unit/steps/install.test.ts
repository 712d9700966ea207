import { describe, expect, it } from 'vitest';
import { install } from '../../../src/steps/install.js';
import { declareStep } from '../../../src/steps/step.js';
import type { NodeFacts } from '../../../src/steps/step.js';
import { DEBIAN_12_RABBITMQ, FakeRabbitLab } from '../../support/fake-rabbit-lab.js';
import type { NodeSetup } from '../../support/fake-rabbit-lab.js';
import { CMD } from '../../support/expected-commands.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells, scripted } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';

const APT_INSTALL = CMD.aptInstall;
const APT_UPDATE = CMD.aptUpdate;
const PACKAGE_STATUS = CMD.packageStatus;

/** Facts as preflight leaves them: the hosts in `missing` have no rabbitmq-server. */
function factsWithout(cluster: ReturnType<typeof labCluster>, missing: string[]): Map<string, NodeFacts> {
  const facts = labFacts(cluster);
  for (const host of missing) facts.set(host, { host, nodeName: `rabbit@${host}`, serviceManager: 'sysv' });
  return facts;
}

function setUp(setups: Record<string, NodeSetup>, missing: string[], cluster = labCluster(3)) {
  const lab = new FakeRabbitLab(cluster.hosts, setups);
  const shells = new RecordingShells(cluster.hosts, lab.respond);
  const { ctx, reports } = stepContext(cluster, shells, { facts: factsWithout(cluster, missing) });
  return { lab, shells, ctx, reports };
}

describe('rabbit:install', () => {
  it('is skipped, with no command at all, when every node has the package', async () => {
    const { shells, ctx } = setUp({}, []);

    const outcome = await declareStep(install).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands).toEqual([]);
  });

  it('installs only where the package is missing, then confirms it with dpkg-query', async () => {
    const { lab, shells, ctx } = setUp({ lab2: { packageVersion: null } }, ['lab2']);

    const outcome = await declareStep(install).execute(ctx);

    expect(shells.commands).toEqual([
      { host: 'lab2', command: APT_INSTALL },
      { host: 'lab2', command: PACKAGE_STATUS },
    ]);
    expect(outcome?.detail).toBe('installed on lab2');
    expect(lab.node('lab2').packageVersion).toBe(DEBIAN_12_RABBITMQ);
    expect(ctx.facts.get('lab2')).toMatchObject({ packageVersion: DEBIAN_12_RABBITMQ, rabbitmqVersion: '3.10.8' });
  });

  it('installs the pinned version when one is set', async () => {
    const cluster = labCluster(3, { packageVersion: DEBIAN_12_RABBITMQ });
    const { shells, ctx } = setUp(
      { lab1: { packageVersion: null }, lab3: { packageVersion: null } },
      ['lab1', 'lab3'],
      cluster,
    );

    await declareStep(install).execute(ctx);

    expect(shells.matching(/apt-get/).sort()).toEqual([
      `lab1: ${APT_INSTALL}=${DEBIAN_12_RABBITMQ}`,
      `lab3: ${APT_INSTALL}=${DEBIAN_12_RABBITMQ}`,
    ]);
  });

  it('refuses, before any command, a node that has another version than the pinned one', async () => {
    const cluster = labCluster(3, { packageVersion: '3.12.1-1' });
    const { shells, ctx } = setUp({}, [], cluster);

    const run = declareStep(install).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'install.version_conflict',
      host: 'lab1',
      retryable: false,
      message: `lab1 has rabbitmq-server ${DEBIAN_12_RABBITMQ}, but the cluster pins 3.12.1-1`,
    });
    expect(shells.commands).toEqual([]);
  });

  it('runs apt-get update and tries once more when apt cannot locate the package', async () => {
    const { shells, ctx } = setUp({ lab3: { packageVersion: null, aptListsStale: true } }, ['lab3']);

    await declareStep(install).execute(ctx);

    expect(shells.commandsOn('lab3')).toEqual([APT_INSTALL, APT_UPDATE, APT_INSTALL, PACKAGE_STATUS]);
  });

  it('runs apt-get update when the pinned version is not in the lists', async () => {
    const cluster = labCluster(1, { packageVersion: '3.10.8-1.1+deb12u2' });
    const { shells, ctx } = setUp({ lab1: { packageVersion: null } }, ['lab1'], cluster);

    const run = declareStep(install).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'command.failed',
      evidence: { exitCode: 100, stderr: "E: Version '3.10.8-1.1+deb12u2' for 'rabbitmq-server' was not found\n" },
    });
    expect(shells.commandsOn('lab1')).toEqual([
      `${APT_INSTALL}=3.10.8-1.1+deb12u2`,
      APT_UPDATE,
      `${APT_INSTALL}=3.10.8-1.1+deb12u2`,
    ]);
  });

  it('does not retry an apt failure an update cannot fix', async () => {
    const cluster = labCluster(1);
    const lockHeld = 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\n';
    const shells = new RecordingShells(cluster.hosts, scripted([['lab1', /apt-get/, { code: 100, stderr: lockHeld }]]));
    const { ctx } = stepContext(cluster, shells, { facts: factsWithout(cluster, ['lab1']) });

    const run = declareStep(install).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'command.failed',
      retryable: false,
      host: 'lab1',
      evidence: { stderr: lockHeld },
    });
    expect(shells.commandsOn('lab1')).toEqual([APT_INSTALL]);
  });

  it('fails with install.failed when apt-get succeeded but dpkg does not show the package', async () => {
    const cluster = labCluster(1);
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        ['lab1', /apt-get/, { code: 0 }],
        ['lab1', /^dpkg-query/, { code: 0, stdout: 'deinstall ok config-files|3.10.8-1.1+deb12u1' }],
      ]),
    );
    const { ctx } = stepContext(cluster, shells, { facts: factsWithout(cluster, ['lab1']) });

    await expect(declareStep(install).execute(ctx)).rejects.toMatchObject({ code: 'install.failed', host: 'lab1' });
  });

  it('installs on every node at once: a failing node does not stop the others', async () => {
    const cluster = labCluster(3);
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        ['lab1', /apt-get/, { code: 100, stderr: 'E: Sub-process /usr/bin/dpkg returned an error code (1)\n' }],
        [/lab[23]/, /apt-get/, { code: 0 }],
        [/lab[23]/, /^dpkg-query/, { code: 0, stdout: `install ok installed|${DEBIAN_12_RABBITMQ}` }],
      ]),
    );
    const { ctx, reports } = stepContext(cluster, shells, { facts: factsWithout(cluster, ['lab1', 'lab2', 'lab3']) });

    await expect(declareStep(install).execute(ctx)).rejects.toMatchObject({ host: 'lab1' });

    expect(reports.filter((r) => r.state === 'done').map((r) => [r.host, r.detail])).toEqual(
      expect.arrayContaining([
        ['lab2', `installed rabbitmq-server ${DEBIAN_12_RABBITMQ}`],
        ['lab3', `installed rabbitmq-server ${DEBIAN_12_RABBITMQ}`],
      ]),
    );
  });
});
