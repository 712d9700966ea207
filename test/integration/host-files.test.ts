/**
 * Hostile files on a real lab host (issue 9, items 1 and 13): links planted by the rabbitmq account
 * in /var/lib/rabbitmq must not make root write, chown, chmod, read or delete anything else; a
 * leftover NODENAME in /etc/rabbitmq/rabbitmq-env.conf is refused by preflight, naming the file.
 * Two lab hosts, RabbitMQ stopped (≈ 10 s). Run as root, under the lab lock:
 *   flock /tmp/warren-labtest.lock npx vitest run test/integration/host-files.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, resolveCluster } from '../../src/config/load.js';
import type { ResolvedCluster } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { wipeNodeDataCommand } from '../../src/rabbit/commands.js';
import { SshSessionPool } from '../../src/ssh/session.js';
import { cookie } from '../../src/steps/cookie.js';
import { preflight } from '../../src/steps/preflight.js';
import { declareStep } from '../../src/steps/step.js';
import { labUp, type Lab } from '../../tools/lab/lab.js';
import { labFacts, stepContext } from '../support/step-context.js';

const LAB_NAME = 'hfl';
const VARLIB = '/var/lib/rabbitmq';
const COOKIE = `${VARLIB}/.erlang.cookie`;

let lab: Lab;
let config: WarrenConfig;
let cluster: ResolvedCluster;

/** Runs a shell line on host i as root (the lab's backdoor, not warren's SSH); fails the test on a non-zero exit. */
async function asRoot(i: number, command: string): Promise<string> {
  const result = await lab.exec(i, command);
  expect(result, command).toMatchObject({ code: 0 });
  return result.stdout;
}

/** What the rabbitmq account itself can do on host i: the attacker of item 1. */
function asRabbitmqUser(i: number, command: string): Promise<string> {
  return asRoot(i, `runuser -u rabbitmq -- sh -c ${JSON.stringify(command)}`);
}

/** Owner, mode, type and content of a file, read inside the host (never following a link). */
function describeFile(i: number, file: string): Promise<string> {
  return asRoot(i, `stat -c '%U %a %F' ${file} && { [ -L ${file} ] || cat ${file}; }`);
}

async function runStep(step: Parameters<typeof declareStep>[0]): Promise<unknown> {
  const pool = new SshSessionPool(cluster.hosts, config.ssh);
  const { ctx } = stepContext(cluster, pool, { facts: labFacts(cluster) });
  try {
    await declareStep(step).execute(ctx);
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await pool.close();
  }
}

beforeAll(async () => {
  lab = await labUp(2, { name: LAB_NAME, startRabbit: false });
  config = await loadConfig(lab.configPath);
  cluster = resolveCluster(config, LAB_NAME);
}, 150_000);

afterAll(async () => {
  await lab?.down();
}, 60_000);

describe('links planted by the rabbitmq account (item 1)', () => {
  it(
    'writes the seed cookie on a node whose staging path and cookie path ' +
      'are links to root files: the root files untouched, the cookie a ' +
      'regular 0400 file',
    async () => {
      await asRoot(
        2,
        "printf 'root file A\\n' > /etc/warren-victim-a && printf 'root file " +
          "B\\n' > /etc/warren-victim-b && chmod 0644 /etc/warren-victim-a " +
          '/etc/warren-victim-b',
      );
      // The old fixed staging name, and the cookie itself, pointing at root's files.
      await asRabbitmqUser(
        2,
        `ln -sfn /etc/warren-victim-a ${COOKIE}.warren-new && rm -f ${COOKIE} && ln -s /etc/warren-victim-b ${COOKIE}`,
      );

      const error = await runStep(cookie);

      expect(error).toBeUndefined();
      expect(await describeFile(2, '/etc/warren-victim-a')).toBe('root 644 regular file\nroot file A\n');
      expect(await describeFile(2, '/etc/warren-victim-b')).toBe('root 644 regular file\nroot file B\n');
      const seedCookie = await asRoot(1, `cat ${COOKIE}`);
      expect(await describeFile(2, COOKIE)).toBe(`rabbitmq 400 regular file\n${seedCookie}`);
      // Nothing staged is left behind beside the cookie.
      expect(await asRoot(2, `ls -A ${VARLIB} | grep -c '^.erlang.cookie.' || true`)).toBe('1\n');
    },
    90_000,
  );

  it("refuses to read the seed's cookie when it is a link (to a root secret), and copies nothing", async () => {
    await asRoot(1, "printf 'ROOTSECRETROOTSECRETROOTSECRET\\n' > /etc/warren-secret && chmod 0644 /etc/warren-secret");
    await asRabbitmqUser(1, `mv ${COOKIE} ${COOKIE}.saved && ln -s /etc/warren-secret ${COOKIE}`);
    await asRoot(
      2,
      `runuser -u rabbitmq -- sh -c 'umask 077; printf ` +
        `OTHERCOOKIEOTHERCOOKIE > ${COOKIE}.x && mv -f ${COOKIE}.x ${COOKIE}'`,
    );
    try {
      const error = await runStep(cookie);

      expect(error).toMatchObject({ code: 'cookie.unsafe_path', host: 'hfl1', retryable: false });
      expect(await asRoot(2, `cat ${COOKIE}`)).toBe('OTHERCOOKIEOTHERCOOKIE');
      expect(JSON.stringify(error)).not.toContain('ROOTSECRET');
      expect(await describeFile(1, '/etc/warren-secret')).toBe(
        'root 644 regular file\nROOTSECRETROOTSECRETROOTSECRET\n',
      );
    } finally {
      await asRabbitmqUser(1, `rm -f ${COOKIE} && mv ${COOKIE}.saved ${COOKIE}`);
    }
  }, 90_000);

  it('does not delete a root directory the mnesia path was turned into a link to', async () => {
    await asRoot(
      2,
      'mkdir -p /etc/warren-victim-dir/rabbit@hfl2 && echo keep > /etc/warren-victim-dir/rabbit@hfl2/important',
    );
    await asRabbitmqUser(
      2,
      `mv ${VARLIB}/mnesia ${VARLIB}/mnesia.real 2>/dev/null; mkdir -p ` +
        `${VARLIB}/mnesia.real; ln -sfn /etc/warren-victim-dir ${VARLIB}/mnesia`,
    );
    const pool = new SshSessionPool(cluster.hosts, config.ssh);
    try {
      const shell = await pool.shell('hfl2');
      const wiped = await shell.run(wipeNodeDataCommand('rabbit@hfl2')).then(
        () => undefined,
        (e: unknown) => e,
      );

      // rm as the rabbitmq account may not delete root's files: the wipe fails, visibly.
      expect(wiped).toMatchObject({ code: 'command.failed' });
      expect(await asRoot(2, 'cat /etc/warren-victim-dir/rabbit@hfl2/important')).toBe('keep\n');
    } finally {
      await pool.close();
      await asRabbitmqUser(2, `rm -f ${VARLIB}/mnesia && mv ${VARLIB}/mnesia.real ${VARLIB}/mnesia`);
    }
  }, 90_000);
});

describe('a leftover NODENAME (item 13)', () => {
  it(
    'refuses a node that rabbitmq-env.conf names rabbit@localhost, naming ' + 'the file; passes once the line is gone',
    async () => {
      await asRoot(
        1,
        'cp /etc/rabbitmq/rabbitmq-env.conf ' +
          '/etc/rabbitmq/rabbitmq-env.conf.orig && echo ' +
          'NODENAME=rabbit@localhost >> /etc/rabbitmq/rabbitmq-env.conf',
      );

      const refused = await runStep(preflight);
      await asRoot(1, 'mv -f /etc/rabbitmq/rabbitmq-env.conf.orig /etc/rabbitmq/rabbitmq-env.conf');
      const passed = await runStep(preflight);

      expect(refused).toMatchObject({
        code: 'preflight.nodename_mismatch',
        host: 'hfl1',
        message:
          "hfl1's RabbitMQ is named rabbit@localhost by " +
          '/etc/rabbitmq/rabbitmq-env.conf, but its node name must be rabbit@hfl1',
      });
      expect(passed).toBeUndefined();
    },
    90_000,
  );
});
