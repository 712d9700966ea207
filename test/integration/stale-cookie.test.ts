/**
 * The stale-cookie trap on a real lab host (issue 9, item 10): the cookie file is rewritten under
 * the running VM, so the CLI can no longer reach its own node. The start step must see it in
 * seconds (the VM runs, the CLI is refused), stop the VM without the CLI, and start it with the
 * file's cookie, well within 60 s, leaving exactly one VM. One lab host with RabbitMQ (≈ 30 s).
 * Run as root, under the lab lock:
 *   flock /tmp/warren-labtest.lock npx vitest run test/integration/stale-cookie.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, resolveCluster } from '../../src/config/load.js';
import { SshSessionPool } from '../../src/ssh/session.js';
import { start } from '../../src/steps/start.js';
import { declareStep } from '../../src/steps/step.js';
import { labUp, type Lab } from '../lab/lab.js';
import { labFacts, stepContext } from '../support/step-context.js';

const LAB_NAME = 'scl';
const COOKIE = '/var/lib/rabbitmq/.erlang.cookie';
const NEW_COOKIE = 'REWRITTENUNDERTHEVMQWERTY';

let lab: Lab;

beforeAll(async () => {
  lab = await labUp(1, { name: LAB_NAME });
}, 150_000);

afterAll(async () => {
  await lab?.down();
}, 60_000);

describe('the stale-cookie trap (real RabbitMQ)', () => {
  it('recovers a node whose cookie file was rewritten under its running VM within 60 s: one VM, running with the file\'s cookie', async () => {
    const before = await lab.exec(1, 'pgrep -u rabbitmq -x beam.smp');
    expect(before.stdout.trim().split('\n')).toHaveLength(1);
    await lab.exec(1, `runuser -u rabbitmq -- sh -c 'umask 077; printf ${NEW_COOKIE} > ${COOKIE}.x && mv -f ${COOKIE}.x ${COOKIE}'`);
    // The trap itself: the CLI is refused by its own node.
    expect((await lab.exec(1, 'rabbitmqctl -q ping </dev/null')).code).not.toBe(0);

    const config = await loadConfig(lab.configPath);
    const cluster = resolveCluster(config, LAB_NAME);
    const pool = new SshSessionPool(cluster.hosts, config.ssh);
    const { ctx } = stepContext(cluster, pool, { facts: labFacts(cluster) });
    const started = performance.now();
    try {
      await declareStep(start).execute(ctx);
    } finally {
      await pool.close();
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`stale cookie: recovered in ${seconds.toFixed(1)} s`);

    expect(seconds).toBeLessThan(60);
    const after = await lab.exec(1, 'pgrep -u rabbitmq -x beam.smp');
    expect(after.stdout.trim().split('\n')).toHaveLength(1);
    expect(after.stdout.trim()).not.toBe(before.stdout.trim());
    const cookie = await lab.exec(1, 'rabbitmqctl -q eval "erlang:get_cookie()." </dev/null');
    expect(cookie).toMatchObject({ code: 0 });
    expect(cookie.stdout.trim()).toBe(`'${NEW_COOKIE}'`);
  }, 120_000);
});
