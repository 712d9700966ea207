import { describe, expect, it } from 'vitest';
import { cookie } from '../../../src/steps/cookie.js';
import { declareStep } from '../../../src/steps/step.js';
import { FakeRabbitLab, cookieFor } from '../../support/fake-rabbit-lab.js';
import type { NodeSetup } from '../../support/fake-rabbit-lab.js';
import { CMD, cookieSha256 } from '../../support/expected-commands.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';

const HASH = CMD.cookieHash;
const READ = CMD.readCookie;
const SHUTDOWN = CMD.shutdown;
const SEED_COOKIE = cookieFor('lab1');
const WRITE = CMD.writeCookie(cookieSha256(SEED_COOKIE));
const LIVE = CMD.switchCookieLive(cookieSha256(SEED_COOKIE));

function setUp(setups: Record<string, NodeSetup>, clusterFields: Record<string, unknown> = {}) {
  const cluster = labCluster(3, clusterFields);
  const lab = new FakeRabbitLab(cluster.hosts, setups);
  const shells = new RecordingShells(cluster.hosts, lab.respond);
  const { ctx, reports } = stepContext(cluster, shells, { facts: labFacts(cluster) });
  return { lab, shells, ctx, reports };
}

describe('rabbit:cookie', () => {
  it("stops and rewrites only the node whose cookie differs from the seed's", async () => {
    const { shells, ctx } = setUp({
      lab1: { cookie: SEED_COOKIE },
      lab2: { cookie: SEED_COOKIE },
      lab3: { cookie: cookieFor('lab3') },
    });

    const outcome = await declareStep(cookie).execute(ctx);

    // The seed's cookie is read once (checked for length and kind), in the check; the copy reuses that read.
    expect(shells.commandsOn('lab1')).toEqual([READ]);
    expect(shells.commandsOn('lab2')).toEqual([HASH]);
    expect(shells.commandsOn('lab3')).toEqual([HASH, SHUTDOWN, WRITE]);
    expect(outcome?.detail).toBe('lab3 stopped and given the cookie');
  });

  it("sends exactly the seed's bytes, base64 on stdin, and only with the write", async () => {
    const { lab, shells, ctx } = setUp({ lab1: { cookie: `${SEED_COOKIE}\n` } });

    await declareStep(cookie).execute(ctx);

    const withStdin = shells.commands.filter((c) => c.stdin !== undefined);
    expect(withStdin).toEqual([
      // The hash in the command is of the exact bytes, trailing newline included.
      {
        host: 'lab2',
        command: CMD.writeCookie(cookieSha256(`${SEED_COOKIE}\n`)),
        stdin: Buffer.from(`${SEED_COOKIE}\n`).toString('base64'),
      },
      {
        host: 'lab3',
        command: CMD.writeCookie(cookieSha256(`${SEED_COOKIE}\n`)),
        stdin: Buffer.from(`${SEED_COOKIE}\n`).toString('base64'),
      },
    ]);
    expect(lab.node('lab2').cookie).toBe(`${SEED_COOKIE}\n`);
    expect(lab.node('lab3').cookie).toBe(`${SEED_COOKIE}\n`);
  });

  it('stops the VM before it writes (a cookie written under a running VM hangs the next start)', async () => {
    const { lab, shells, ctx } = setUp({});

    await declareStep(cookie).execute(ctx);

    const lab2 = shells.matching(/shutdown|base64 -d/).filter((l) => l.startsWith('lab2'));
    expect(lab2).toEqual([`lab2: ${SHUTDOWN}`, `lab2: ${WRITE}`]);
    expect(lab.node('lab2').vm).toBe(false);
    expect(lab.node('lab1').vm).toBe(true);
  });

  it('never puts the cookie in a command line, and registers it with the redactor', async () => {
    const { shells, ctx } = setUp({});
    const base64 = Buffer.from(SEED_COOKIE).toString('base64');

    await declareStep(cookie).execute(ctx);

    expect(shells.commands.length).toBeGreaterThan(0);
    for (const { command } of shells.commands) {
      expect(command).not.toContain(SEED_COOKIE);
      expect(command).not.toContain(base64);
    }
    expect(shells.redactor.redact(`cookie ${SEED_COOKIE} / ${base64}`)).toBe('cookie [redacted] / [redacted]');
  });

  it('keeps the cookie out of what it reports', async () => {
    const { ctx, reports } = setUp({});

    const outcome = await declareStep(cookie).execute(ctx);

    expect(JSON.stringify({ outcome, reports })).not.toContain(SEED_COOKIE);
    expect(JSON.stringify({ outcome, reports })).not.toContain(Buffer.from(SEED_COOKIE).toString('base64'));
  });

  it("does nothing but read the seed's cookie and compare hashes when every node has it", async () => {
    const { shells, ctx } = setUp({
      lab1: { cookie: SEED_COOKIE },
      lab2: { cookie: SEED_COOKIE },
      lab3: { cookie: SEED_COOKIE },
    });

    const outcome = await declareStep(cookie).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands.map((c) => `${c.host}: ${c.command}`).sort()).toEqual([
      `lab1: ${READ}`,
      `lab2: ${HASH}`,
      `lab3: ${HASH}`,
    ]);
  });

  it('gives a cookie to a node that has none yet', async () => {
    const { lab, shells, ctx } = setUp({ lab3: { cookie: null, running: false } });

    await declareStep(cookie).execute(ctx);

    // shutdown's 69 could be a VM that refuses the CLI: the signal stop makes sure (a no-op here).
    expect(shells.commandsOn('lab3')).toEqual([HASH, SHUTDOWN, CMD.stopVm, WRITE]);
    expect(lab.node('lab3').cookie).toBe(lab.node('lab1').cookie);
  });

  it('starts a seed that was never started, so its VM creates the cookie to copy', async () => {
    const { lab, shells, ctx } = setUp({ lab1: { cookie: null, running: false } });

    await declareStep(cookie).execute(ctx);

    // none yet: read, started, read again (the cookie the VM created); the copy reuses that second read
    expect(shells.commandsOn('lab1')).toEqual([READ, CMD.sysvStart, CMD.waitRunning, READ]);
    expect(lab.node('lab1').cookie).not.toBeNull();
    expect(lab.node('lab2').cookie).toBe(lab.node('lab1').cookie);
  });

  it('takes an already stopped node (shutdown exit 69) in its stride', async () => {
    const { lab, ctx } = setUp({ lab2: { running: false } });

    await declareStep(cookie).execute(ctx);

    expect(lab.node('lab2').cookie).toBe(SEED_COOKIE);
  });

  it('switches a node the membership gate found joinable live: no stop, no restart', async () => {
    const { lab, shells, ctx, reports } = setUp({});
    ctx.facts.set('lab2', { ...ctx.facts.get('lab2')!, membership: 'joinable' });

    const outcome = await declareStep(cookie).execute(ctx);

    expect(shells.commandsOn('lab2')).toEqual([HASH, LIVE]);
    expect(shells.commands.find((c) => c.command === LIVE)?.stdin).toBe(Buffer.from(SEED_COOKIE).toString('base64'));
    expect(shells.commandsOn('lab3')).toEqual([HASH, SHUTDOWN, WRITE]);
    expect(outcome?.detail).toBe('lab2 switched live; lab3 stopped and given the cookie');
    expect(reports.find((r) => r.host === 'lab2' && r.state === 'done')?.detail).toBe(
      "switched to the seed's cookie live (no restart: the join comes next)",
    );
    expect(lab.node('lab2')).toMatchObject({
      vm: true,
      app: true,
      cookie: SEED_COOKIE,
      vmCookie: SEED_COOKIE,
      starts: 0,
    });
  });

  it('restarts members and nodes it knows nothing about instead of switching them live', async () => {
    const { shells, ctx } = setUp({});
    ctx.facts.set('lab2', { ...ctx.facts.get('lab2')!, membership: 'member' });

    await declareStep(cookie).execute(ctx);

    expect(shells.matching(/eval/)).toEqual([]);
    expect(shells.commandsOn('lab2')).toEqual([HASH, SHUTDOWN, WRITE]);
  });

  it('never switches live when the cluster turns it off', async () => {
    const { shells, ctx } = setUp({}, { liveCookieSwitch: false });
    ctx.facts.set('lab2', { ...ctx.facts.get('lab2')!, membership: 'joinable' });

    await declareStep(cookie).execute(ctx);

    expect(shells.commandsOn('lab2')).toEqual([HASH, SHUTDOWN, WRITE]);
  });

  it('falls back to stop and write when the live switch fails', async () => {
    const { lab, shells, ctx } = setUp({});
    ctx.facts.set('lab3', { ...ctx.facts.get('lab3')!, membership: 'joinable' });
    lab.node('lab3').vm = false;
    lab.node('lab3').app = false;

    await declareStep(cookie).execute(ctx);

    expect(shells.commandsOn('lab3')).toEqual([HASH, LIVE, SHUTDOWN, CMD.stopVm, WRITE]);
    expect(lab.node('lab3').cookie).toBe(SEED_COOKIE);
  });

  it('changes nothing when run again after the start step', async () => {
    const { lab, shells, ctx } = setUp({});
    await declareStep(cookie).execute(ctx);
    for (const host of ['lab2', 'lab3']) lab.respond(host, CMD.sysvStart, undefined);
    shells.commands.length = 0;

    const outcome = await declareStep(cookie).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.matching(/shutdown|base64 -d/)).toEqual([]);
  });

  it('installs nothing when the cookie arrives cut short (a worker died before sending stdin)', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts, {});
    const before = lab.node('lab2').cookie;
    // The step's write, as if stdin never arrived: the hash check refuses it with exit 75 (retryable).
    const shells = new RecordingShells(cluster.hosts, lab.respond);
    const shell = await shells.shell('lab2');
    const { writeCookieCommand } = await import('../../../src/rabbit/commands.js');
    await expect(shell.run(writeCookieCommand(cookieSha256(SEED_COOKIE)), { stdin: '' })).rejects.toMatchObject({
      code: 'command.failed',
      retryable: true,
    });
    expect(lab.node('lab2').cookie).toBe(before);
  });

  it.each(['x', 'SHORTCOOKIE', 'NINETEENLETTERSXXXX', `${'A'.repeat(19)}\n`])(
    'refuses a seed cookie shorter than 20 characters (%j) before copying it anywhere, and still redacts it',
    async (short) => {
      const { lab, shells, ctx } = setUp({ lab1: { cookie: short } });
      const before = lab.node('lab2').cookie;

      const error = await declareStep(cookie)
        .execute(ctx)
        .then(
          () => undefined,
          (e: unknown) => e,
        );

      expect(error).toMatchObject({ code: 'cookie.too_short', host: 'lab1', retryable: false });
      expect(shells.matching(/base64 -d|shutdown/)).toEqual([]);
      expect(lab.node('lab2').cookie).toBe(before);
      expect(shells.redactor.redact(`it was ${short.trim()}`)).toBe('it was [redacted]');
    },
  );

  it('takes a seed cookie of exactly 20 characters', async () => {
    const { lab, ctx } = setUp({ lab1: { cookie: 'ABCDEFGHIJKLMNOPQRST' } });

    await declareStep(cookie).execute(ctx);

    expect(lab.node('lab2').cookie).toBe('ABCDEFGHIJKLMNOPQRST');
  });

  it(
    'stops a VM whose cookie file was rewritten under it (shutdown ' +
      'refused, exit 69) with signals before writing, so no second VM starts ' +
      'beside it',
    async () => {
      const { lab, shells, ctx } = setUp({});
      // Someone rewrote lab2's cookie file under its running VM: the CLI is locked out.
      lab.node('lab2').cookie = cookieFor('rewritten');

      await declareStep(cookie).execute(ctx);

      expect(shells.commandsOn('lab2')).toEqual([HASH, SHUTDOWN, CMD.stopVm, WRITE]);
      expect(lab.node('lab2')).toMatchObject({ vm: false, stoppedWithoutCli: 1, cookie: SEED_COOKIE });
    },
  );
});
