import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import { cookieHashCommand, readCookieCommand, shutdownCommand, writeCookieCommand } from '../rabbit/commands.js';
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

/**
 * Every node gets the seed's Erlang cookie. Only nodes whose cookie differs are touched: full
 * stop, then the seed's exact bytes (owner rabbitmq, 0400). The start step brings them back, so
 * each such node restarts exactly once. The cookie never appears in logs, job data or events.
 */
export const cookie: Step<Host> = {
  id: 'rabbit:cookie',
  title: "Give every node the seed's Erlang cookie",
  skippedDetail: "every node already has the seed's cookie",

  plan(cluster) {
    return cluster.hosts
      .filter((h) => h.name !== cluster.seed.name)
      .flatMap((host) => [
        { step: this.id, host: host.name, command: shutdownCommand().text, when: "its cookie differs from the seed's" },
        { step: this.id, host: host.name, command: `${writeCookieCommand().text}  # stdin: the seed's cookie (base64), never shown`, when: "its cookie differs from the seed's" },
      ]);
  },

  async check(ctx) {
    const seedHash = await seedCookieHash(ctx);
    const others = ctx.cluster.hosts.filter((h) => h.name !== ctx.cluster.seed.name);
    const hashes = await onEveryHost(others, async (host) => {
      try {
        return { host, hash: await cookieHash(ctx, host) };
      } catch (error) {
        // A node without a cookie file simply needs one.
        if (isWarrenError(error) && error.code === 'command.failed') return { host, hash: '' };
        throw error;
      }
    });
    return hashes.filter((h) => h.hash !== seedHash).map((h) => h.host);
  },

  async run(ctx, hosts) {
    const cookieBase64 = await readSeedCookie(ctx);
    await onEveryHost(hosts, (host) =>
      timedOnHost(
        ctx,
        host.name,
        async () => {
          await stopFully(ctx, host);
          const shell = await ctx.shells.shell(host.name);
          await shell.run(writeCookieCommand(), { stdin: cookieBase64 });
        },
        () => "stopped, wrote the seed's cookie",
      ),
    );
    return { detail: `${hosts.map((h) => h.name).join(', ')} given the seed's cookie (stopped; start follows)` };
  },
};
