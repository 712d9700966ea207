import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import {
  COOKIE_NOT_REGULAR_EXIT,
  COOKIE_PATH,
  SEED_COOKIE_SHA256,
  cookieHashCommand,
  readCookieCommand,
  shutdownCommand,
  stopVmWithoutCliCommand,
  switchCookieLiveCommand,
  writeCookieCommand,
} from '../rabbit/commands.js';
import { createHash } from 'node:crypto';
import { ensureRunning } from './start.js';
import { onEveryHost, timedOnHost } from './step.js';
import type { Step, StepContext } from './step.js';

async function cookieHash(ctx: StepContext, host: Host): Promise<string> {
  const shell = await ctx.shells.shell(host.name);
  return (await shell.run(cookieHashCommand())).stdout.trim();
}

/**
 * The shortest cookie accepted. The cookie is the only secret between the network and a shell on
 * every node (whoever knows it can run any code in the Erlang VM), so it must resist guessing over
 * the distribution port. 20 is what RabbitMQ's Debian package and Erlang itself generate (20
 * random upper-case letters, about 94 bits): no generated cookie is refused, and anything shorter
 * was chosen by hand.
 */
export const MIN_COOKIE_LENGTH = 20;

interface SeedCookie {
  base64: string;
  sha256: string;
}

/**
 * Reads the seed's cookie (as the rabbitmq account; a link or non-regular file is refused) and
 * registers it with the job's redactor before anything else can see it. Undefined when the seed
 * has no cookie yet. A cookie too short to be safe is refused here, before it is copied anywhere.
 */
async function readSeedCookie(ctx: StepContext): Promise<SeedCookie | undefined> {
  const seed = ctx.cluster.seed;
  const shell = await ctx.shells.shell(seed.name);
  const read = await shell.run(readCookieCommand(), { okExitCodes: [1, COOKIE_NOT_REGULAR_EXIT] });
  if (read.code === COOKIE_NOT_REGULAR_EXIT) {
    throw new WarrenError(
      'cookie.unsafe_path',
      `the Erlang cookie on the seed ${seed.name} (${COOKIE_PATH}) is a link ` +
        `or not a regular file: refusing to read or copy it`,
      {
        host: seed.name,
        hint:
          `On ${seed.name}, find out who made ${COOKIE_PATH} a link (the ` +
          `rabbitmq account may be compromised), replace it with a regular file ` +
          `(owner rabbitmq, mode 0400), then run the job again.`,
      },
    );
  }
  const base64 = read.stdout.trim();
  if (read.code !== 0 || base64 === '') return undefined;
  const bytes = Buffer.from(base64, 'base64');
  ctx.shells.redactor.add(base64);
  ctx.shells.redactor.add(bytes.toString('utf8'));
  // The VM trims the cookie it reads, so its length is what counts.
  if (bytes.toString('utf8').trim().length < MIN_COOKIE_LENGTH) {
    throw new WarrenError(
      'cookie.too_short',
      `the Erlang cookie on the seed ${seed.name} is shorter than ` +
        `${MIN_COOKIE_LENGTH} characters: too easy to guess to be copied to ` +
        `every node`,
      {
        host: seed.name,
        hint:
          `Stop RabbitMQ on ${seed.name}, write a random cookie of at least ` +
          `${MIN_COOKIE_LENGTH} characters to ${COOKIE_PATH} (e.g. 20 random ` +
          `upper-case letters, as Debian makes; owner rabbitmq, mode 0400), ` +
          `start it again, then run the job again.`,
      },
    );
  }
  return { base64, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The seed's cookie. A package that was installed but never started has no cookie yet (the
 * Erlang VM creates it on first start), so the seed is started once to create it.
 */
async function seedCookie(ctx: StepContext): Promise<SeedCookie> {
  const existing = await readSeedCookie(ctx);
  if (existing) return existing;
  await ensureRunning(ctx, ctx.cluster.seed);
  const created = await readSeedCookie(ctx);
  if (!created)
    throw new WarrenError('cookie.unreadable', `cannot read the Erlang cookie on the seed ${ctx.cluster.seed.name}`, {
      host: ctx.cluster.seed.name,
    });
  return created;
}

/**
 * Stops the node's Erlang VM for good before the cookie changes: the VM reads the cookie only at
 * start, and a cookie written under a running VM locks the CLI out and hangs the next start.
 * Exit 69 means it was not running, or that it refuses the CLI, and 78 that the CLI cannot use the
 * cookie file: then any VM is stopped with signals.
 */
async function stopFully(ctx: StepContext, host: Host): Promise<void> {
  const shell = await ctx.shells.shell(host.name);
  const shutdown = await shell.run(shutdownCommand(), { okExitCodes: [69, 78], timeoutMs: 120_000 });
  // 69 is also what a VM answers when it refuses the CLI (its cookie file was changed under it):
  // taking that for "not running" wrote the cookie beside a live VM and started a second one.
  // 78: the CLI cannot use the cookie file at all (a link, a wrong owner or mode), which this
  // step is about to replace. Either way the VM, if any, is stopped with signals.
  if (shutdown.code === 69 || shutdown.code === 78) await shell.run(stopVmWithoutCliCommand(), { timeoutMs: 90_000 });
}

/** How a node gets the cookie: switched live (it joins next), or stopped and written (the start step restarts it). */
interface PendingCookie {
  host: Host;
  how: 'live' | 'restart';
  /** The seed's cookie as check read it a moment ago (in memory only, redacted): run does not read it again. */
  seed: SeedCookie;
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
      ctx.logger.warn(
        { host: host.name, code: isWarrenError(error) ? error.code : 'unknown' },
        'live cookie switch failed; stopping the node instead',
      );
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
        ? [
            {
              step: this.id,
              host: host.name,
              command:
                `${switchCookieLiveCommand(SEED_COOKIE_SHA256).text}  # stdin: the ` +
                `seed's cookie (base64), never shown`,
              when: 'its cookie differs and it is a running, empty standalone node (the join wipes it anyway)',
            },
          ]
        : []),
      {
        step: this.id,
        host: host.name,
        command: shutdownCommand().text,
        when: "its cookie differs from the seed's (otherwise)",
      },
      {
        step: this.id,
        host: host.name,
        command: stopVmWithoutCliCommand().text,
        when:
          'shutdown answered 69 or 78 (not running, a VM that refuses the CLI, ' +
          'or a cookie file the CLI cannot use)',
      },
      {
        step: this.id,
        host: host.name,
        command: `${writeCookieCommand(SEED_COOKIE_SHA256).text}  # stdin: the seed's cookie (base64), never shown`,
        when: "its cookie differs from the seed's (otherwise)",
      },
    ]);
  },

  async check(ctx) {
    const seed = await seedCookie(ctx);
    const hashes = await onEveryHost(ctx.cluster.joiners, async (host) => ({
      host,
      hash: await cookieHash(ctx, host),
    }));
    return hashes
      .filter((h) => h.hash !== seed.sha256)
      .map(({ host }) => ({
        host,
        seed,
        how:
          ctx.cluster.cluster.liveCookieSwitch && ctx.facts.get(host.name)?.membership === 'joinable'
            ? 'live'
            : 'restart',
      }));
  },

  async run(ctx, pending) {
    // check read the seed's cookie just before, in this execution, and the job holds the cluster: it is current
    const cookieBase64 = pending[0].seed.base64;
    await onEveryHost(
      pending.map((p) => p.host),
      (host, i) =>
        timedOnHost(
          ctx,
          host.name,
          () => giveCookie(ctx, pending[i], cookieBase64),
          (detail) => detail,
        ),
    );
    const live = pending.filter((p) => p.how === 'live').map((p) => p.host.name);
    const restarted = pending.filter((p) => p.how === 'restart').map((p) => p.host.name);
    return {
      detail: [
        live.length ? `${live.join(', ')} switched live` : '',
        restarted.length ? `${restarted.join(', ')} stopped and given the cookie` : '',
      ]
        .filter(Boolean)
        .join('; '),
    };
  },
};
