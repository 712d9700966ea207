import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import { SEED_COOKIE_SHA256, cookieHashCommand, readCookieCommand, shutdownCommand, switchCookieLiveCommand, writeCookieCommand } from '../rabbit/commands.js';
import { createHash } from 'node:crypto';
import { ensureRunning } from './start.js';
import { onEveryHost, timedOnHost } from './step.js';
import type { Step, StepContext } from './step.js';

async function cookieHash(ctx: StepContext, host: Host): Promise<string> {
  const shell = await ctx.shells.shell(host.name);
  return (await shell.run(cookieHashCommand())).stdout.trim();
}

/**
 * The seed's cookie hash. A package that was installed but never started has no cookie yet (the
 * Erlang VM creates it on first start), so the seed is started once to create it.
 */
async function seedCookieHash(ctx: StepContext): Promise<string> {
  const hash = await cookieHash(ctx, ctx.cluster.seed);
  if (/^[0-9a-f]{64}$/.test(hash)) return hash;
  await ensureRunning(ctx, ctx.cluster.seed);
  const created = await cookieHash(ctx, ctx.cluster.seed);
  if (!/^[0-9a-f]{64}$/.test(created)) {
    throw new WarrenError('cookie.unreadable', `cannot read the Erlang cookie on the seed ${ctx.cluster.seed.name}`, { host: ctx.cluster.seed.name });
  }
  return created;
}

/** The seed's cookie bytes, registered with the job's redactor before anything else can see them. */
async function readSeedCookie(ctx: StepContext): Promise<string> {
  const shell = await ctx.shells.shell(ctx.cluster.seed.name);
  const base64 = (await shell.run(readCookieCommand())).stdout.trim();
  ctx.shells.redactor.add(base64);
  ctx.shells.redactor.add(Buffer.from(base64, 'base64').toString('utf8'));
  return base64;
}

/**
 * Stops the node's Erlang VM for good before the cookie changes: the VM reads the cookie only at
 * start, and a cookie written under a running VM locks the CLI out and hangs the next start.
 * Exit 69 means it was not running.
 */
async function stopFully(ctx: StepContext, host: Host): Promise<void> {
  const shell = await ctx.shells.shell(host.name);
  await shell.run(shutdownCommand(), { okExitCodes: [69], timeoutMs: 120_000 });
}

/** How a node gets the cookie: switched live (it joins next), or stopped and written (the start step restarts it). */
interface PendingCookie {
  host: Host;
  how: 'live' | 'restart';
}

/**
 * Switches a running node that is about to join without restarting it. If the switch fails (an
 * old Erlang, an odd node), the safe path runs instead: full stop, then write.
 */
async function giveCookie(ctx: StepContext, { host, how }: PendingCookie, cookieBase64: string): Promise<string> {
  const shell = await ctx.shells.shell(host.name);
  const sha256 = createHash('sha256').update(Buffer.from(cookieBase64, 'base64')).digest('hex');
  if (how === 'live') {
    try {
      await shell.run(switchCookieLiveCommand(sha256), { stdin: cookieBase64, timeoutMs: 60_000 });
      return "switched to the seed's cookie live (no restart: the join comes next)";
    } catch (error) {
      ctx.logger.warn({ host: host.name, code: isWarrenError(error) ? error.code : 'unknown' }, 'live cookie switch failed; stopping the node instead');
    }
  }
  await stopFully(ctx, host);
  await shell.run(writeCookieCommand(sha256), { stdin: cookieBase64 });
  return "stopped, wrote the seed's cookie (start follows)";
}

/**
 * Every node gets the seed's Erlang cookie; only nodes whose cookie differs are touched. The VM
 * reads the cookie only at start, and a cookie file changed under a running VM locks the CLI out,
 * so a node is either fully stopped before the file changes (the start step brings it back: one
 * restart), or, when the membership gate found it standalone and empty so the join will wipe it
 * anyway, switched live: the VM takes the cookie first, then the file. The cookie itself never
 * appears in logs, job data, events or command lines (it travels base64 on stdin).
 */
export const cookie: Step<PendingCookie> = {
  id: 'rabbit:cookie',
  title: "Give every node the seed's Erlang cookie",
  skippedDetail: "every node already has the seed's cookie",

  plan(cluster) {
    return cluster.joiners.flatMap((host) => [
        ...(cluster.cluster.liveCookieSwitch
          ? [{ step: this.id, host: host.name, command: `${switchCookieLiveCommand(SEED_COOKIE_SHA256).text}  # stdin: the seed's cookie (base64), never shown`, when: "its cookie differs and it is a running, empty standalone node (the join wipes it anyway)" }]
          : []),
        { step: this.id, host: host.name, command: shutdownCommand().text, when: "its cookie differs from the seed's (otherwise)" },
        { step: this.id, host: host.name, command: `${writeCookieCommand(SEED_COOKIE_SHA256).text}  # stdin: the seed's cookie (base64), never shown`, when: "its cookie differs from the seed's (otherwise)" },
      ]);
  },

  async check(ctx) {
    const seedHash = await seedCookieHash(ctx);
    const hashes = await onEveryHost(ctx.cluster.joiners, async (host) => ({ host, hash: await cookieHash(ctx, host) }));
    return hashes
      .filter((h) => h.hash !== seedHash)
      .map(({ host }) => ({
        host,
        how: ctx.cluster.cluster.liveCookieSwitch && ctx.facts.get(host.name)?.membership === 'joinable' ? 'live' : 'restart',
      }));
  },

  async run(ctx, pending) {
    const cookieBase64 = await readSeedCookie(ctx);
    await onEveryHost(
      pending.map((p) => p.host),
      (host, i) => timedOnHost(ctx, host.name, () => giveCookie(ctx, pending[i], cookieBase64), (detail) => detail),
    );
    const live = pending.filter((p) => p.how === 'live').map((p) => p.host.name);
    const restarted = pending.filter((p) => p.how === 'restart').map((p) => p.host.name);
    return {
      detail: [live.length ? `${live.join(', ')} switched live` : '', restarted.length ? `${restarted.join(', ')} stopped and given the cookie` : ''].filter(Boolean).join('; '),
    };
  },
};
