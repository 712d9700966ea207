/**
 * The stale-cookie trap on real lab hosts of every supported version (issue 9, item 10; issue 12):
 * the cookie file is rewritten under the running VM, so the CLI can no longer reach its own node.
 * Per version, on a two-host lab of its own:
 *  - the start step alone sees it in seconds (the VM runs, the CLI is refused), stops the VM
 *    without the CLI and starts it with the file's cookie, within 60 s, leaving exactly one VM;
 *  - a `cluster create` whose seed and joiner are both in the trap ends within 60 s on its first
 *    attempt with the cluster formed, both nodes running the seed's file cookie, one VM each.
 * The exit codes the locked-out CLI answers are logged per version. Needs root; release trees are
 * built first if missing (≈ 1 min per version with the trees cached). Run under the lab lock:
 *   flock /tmp/warren-labtest.lock npx vitest run test/integration/stale-cookie.test.ts
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, resolveCluster } from '../../src/config/load.js';
import { ClusterCreateResult } from '../../src/operations/schema.js';
import { SshSessionPool } from '../../src/ssh/session.js';
import { start } from '../../src/steps/start.js';
import { declareStep } from '../../src/steps/step.js';
import { labUp, type Lab, type LabRelease } from '../../tools/lab/lab.js';
import { labFacts, stepContext } from '../support/step-context.js';
import { startHarness } from './harness.js';

const COOKIE = '/var/lib/rabbitmq/.erlang.cookie';

/** 20 random capital letters, as Debian's postinst makes a cookie. */
function freshCookie(): string {
  return Array.from({ length: 20 }, () => String.fromCharCode(65 + randomInt(26))).join('');
}

/**
 * Rewrites host i's cookie file under its running VM, as the rabbitmq account (owner and mode as RabbitMQ wants them).
 */
async function rewriteCookieUnderVm(lab: Lab, i: number, cookie: string): Promise<void> {
  const r = await lab.exec(
    i,
    `runuser -u rabbitmq -- sh -c 'umask 077; printf ${cookie} > ${COOKIE}.x && mv -f ${COOKIE}.x ${COOKIE}'`,
  );
  expect(r.code, r.stderr).toBe(0);
}

/** The rabbitmq account's beam.smp PIDs on host i. */
async function vms(lab: Lab, i: number): Promise<string[]> {
  return (await lab.exec(i, 'pgrep -u rabbitmq -x beam.smp')).stdout.trim().split('\n').filter(Boolean);
}

/** The cookie host i's VM runs with, asked of the VM (the CLI reads the file: a match proves they agree). */
async function vmCookie(lab: Lab, i: number): Promise<string> {
  const r = await lab.exec(i, 'rabbitmqctl -q eval "erlang:get_cookie()." </dev/null', { timeoutMs: 90_000 });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** What the locked-out CLI answers on host i (exit codes), for the record: warren decides by them. */
async function lockedOutCodes(lab: Lab, i: number): Promise<Record<string, number>> {
  const probes = {
    ping: 'rabbitmqctl -q ping',
    check_running: 'rabbitmq-diagnostics -q check_running',
    cluster_status: 'rabbitmqctl -q cluster_status --formatter json',
    service_status: 'service rabbitmq-server status',
  };
  const codes: Record<string, number> = {};
  for (const [name, cmd] of Object.entries(probes))
    codes[name] = (await lab.exec(i, `${cmd} </dev/null >/dev/null 2>&1`, { timeoutMs: 90_000 })).code;
  return codes;
}

const VERSIONS: { release: LabRelease; labName: string; rabbitmqVersion: string; erlangVersion: string }[] = [
  { release: 'machine', labName: 'scl', rabbitmqVersion: '3.10.8', erlangVersion: '25.2.3' },
  { release: 'trixie', labName: 'sa', rabbitmqVersion: '4.0.5', erlangVersion: '27.3.4.1' },
  { release: 'forky', labName: 'sb', rabbitmqVersion: '4.3.6', erlangVersion: '29.1.1' },
];

describe.each(VERSIONS)(
  'the stale-cookie trap on RabbitMQ $rabbitmqVersion ($release lab $labName)',
  ({ release, labName, rabbitmqVersion, erlangVersion }) => {
    let lab: Lab;

    beforeAll(async () => {
      lab = await labUp(2, { name: labName, releases: [release] });
    }, 900_000);

    afterAll(async () => {
      await lab?.down();
    }, 60_000);

    it(
      'the start step recovers a node whose cookie file was rewritten under ' +
        "its running VM within 60 s: one VM, running with the file's cookie",
      async () => {
        const before = await vms(lab, 1);
        expect(before).toHaveLength(1);
        const cookie = freshCookie();
        await rewriteCookieUnderVm(lab, 1, cookie);
        // The trap itself: the CLI is refused by its own node.
        const codes = await lockedOutCodes(lab, 1);
        console.log(`stale cookie on ${rabbitmqVersion}: the locked-out CLI answers ${JSON.stringify(codes)}`);
        expect(codes.ping).not.toBe(0);

        const config = await loadConfig(lab.configPath);
        const cluster = resolveCluster(config, labName);
        const pool = new SshSessionPool(cluster.hosts, config.ssh);
        const { ctx } = stepContext(cluster, pool, { facts: labFacts(cluster, { rabbitmqVersion, erlangVersion }) });
        const started = performance.now();
        try {
          await declareStep(start).execute(ctx);
        } finally {
          await pool.close();
        }
        const seconds = (performance.now() - started) / 1000;
        console.log(`stale cookie on ${rabbitmqVersion}: the start step recovered in ${seconds.toFixed(1)} s`);

        expect(seconds).toBeLessThan(60);
        const after = await vms(lab, 1);
        expect(after).toHaveLength(1);
        expect(after).not.toEqual(before);
        expect(await vmCookie(lab, 1)).toBe(`'${cookie}'`);
      },
      180_000,
    );

    it(
      'a create whose seed and joiner are both in the trap forms the cluster ' +
        "within 60 s on its first attempt: the seed's file cookie everywhere, " +
        'one VM each',
      async () => {
        const [seedCookie, joinerCookie] = [freshCookie(), freshCookie()];
        const before = await Promise.all([vms(lab, 1), vms(lab, 2)]);
        expect(before.map((pids) => pids.length)).toEqual([1, 1]);
        await rewriteCookieUnderVm(lab, 1, seedCookie);
        await rewriteCookieUnderVm(lab, 2, joinerCookie);
        expect((await lab.exec(2, 'rabbitmqctl -q ping </dev/null')).code).not.toBe(0);

        const harness = await startHarness(await loadConfig(lab.configPath));
        try {
          const started = performance.now();
          const { final, events } = await harness.create(labName);
          const seconds = (performance.now() - started) / 1000;
          const answered = (pattern: RegExp) =>
            harness.commands.filter((c) => pattern.test(c.command)).map((c) => `${c.host}:${c.code}`);
          console.log(
            `stale cookie on ${rabbitmqVersion}: create ${final.state} in ` +
              `${seconds.toFixed(1)} s; shutdown answered ` +
              `${answered(/rabbitmqctl -q shutdown/).join(' ')}; ` +
              (`check_running ${answered(/check_running/).join(' ')}; the slowest ` +
                `command took ${Math.max(...harness.commands.map((c) => c.durationMs))}` +
                ` ms`),
          );
          expect(final.error).toBeUndefined();
          expect(final.state).toBe('completed');
          expect(events.filter((e) => e.event.type === 'job' && e.event.state === 'retrying')).toEqual([]);
          expect(seconds).toBeLessThan(60);
          expect(ClusterCreateResult.parse(final.result).health.headline).toBe('healthy');
        } finally {
          await harness.close();
        }

        const nodes = [`rabbit@${labName}1`, `rabbit@${labName}2`];
        for (const i of [1, 2]) {
          const after = await vms(lab, i);
          expect(after, `host ${i}`).toHaveLength(1);
          expect(after, `host ${i}: the VM that refused the CLI is gone`).not.toEqual(before[i - 1]);
          expect(await lab.readCookie(i)).toBe(seedCookie);
          expect(await vmCookie(lab, i)).toBe(`'${seedCookie}'`);
          const status = await lab.exec(i, 'rabbitmqctl -q cluster_status --formatter json </dev/null', {
            timeoutMs: 90_000,
          });
          expect(status.code, status.stderr).toBe(0);
          expect([...(JSON.parse(status.stdout) as { running_nodes: string[] }).running_nodes].sort()).toEqual(nodes);
        }
      },
      240_000,
    );
  },
);
