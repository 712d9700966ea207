/**
 * A vhost name is data from the node, and anyone allowed to create a vhost picks it. Debian's
 * rabbitmq-script-wrapper, run as root, hands its arguments to `su -c "…"` with only `"` escaped,
 * so a name like `$(touch …)` passed to rabbitmqctl by root runs on the node. On real 3.10.8 and
 * 4.3.6 single-node clusters (lab `hv`), every read warren makes per vhost (status, upgrade-check,
 * the gates' queue count, the quorum-queue members) meets such a name and must run nothing.
 * Needs root. Run: flock /tmp/warren-labtest.lock npx vitest run test/integration/hostile-vhost.test.ts
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';

const exec = promisify(execFile);
const CLI = 'dist/src/cli/bin.js';
const NAME = 'hv';
const MARK = '/tmp/warren-hostile-vhost';
/** Runs `touch MARK` if any shell on the way expands it; a plain (odd) vhost name otherwise. */
const HOSTILE_VHOST = `$(touch ${MARK})\`touch ${MARK}-bq\``;
const CLUSTERS = { hv310: 1, hv43: 2 } as const;

describe('a vhost named like a command substitution (lab hv: 3.10.8 and 4.3.6)', () => {
  let lab: Lab;
  let configPath: string;

  const warren = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await exec('node', [CLI, '--config', configPath, ...args], {
        timeout: 120_000,
        env: { ...process.env, LOG_LEVEL: 'warn' },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  const marks = async (i: number): Promise<string> =>
    (await lab.exec(i, `ls -1 ${MARK}* 2>/dev/null || true`)).stdout.trim();

  beforeAll(async () => {
    await exec('npm', ['run', '-s', 'build']);
    lab = await labUp(2, { name: NAME, releases: ['machine', 'forky'] });
    const labConfig = await loadConfig(lab.configPath);
    configPath = join(lab.dir, 'hostile-vhost.yaml');
    await writeFile(
      configPath,
      stringify({
        ...labConfig,
        clusters: Object.entries(CLUSTERS).map(([name, i]) => ({ name, nodes: [`${NAME}${i}`], seed: `${NAME}${i}` })),
      }),
    );
    for (const i of Object.values(CLUSTERS)) {
      // As rabbitmq, so this setup itself goes around the wrapper's second shell; the name arrives as written.
      const added = await lab.exec(i, `runuser -u rabbitmq -- rabbitmqctl -q add_vhost '${HOSTILE_VHOST}' </dev/null`);
      expect(added.code, added.stderr).toBe(0);
      const listed = await lab.exec(i, 'rabbitmqctl -q list_vhosts --formatter json name </dev/null');
      expect((JSON.parse(listed.stdout) as { name: string }[]).map((v) => v.name)).toContain(HOSTILE_VHOST);
      expect(await marks(i)).toBe('');
    }
  }, 300_000);

  afterAll(async () => {
    await lab?.down();
  }, 120_000);

  it.each(Object.entries(CLUSTERS))(
    '%s: status, upgrade-check and the gates read it and run nothing',
    async (cluster, i) => {
      const status = await warren('status', cluster, '--json');
      expect(status.stdout, status.stderr).toMatch(/^\{/);
      const upgrade = await warren('upgrade-check', cluster, '--json');
      expect(upgrade.stdout, upgrade.stderr).toMatch(/^\{/);
      // The reset's gates count the node's queues in every vhost (without --yes: gates and plan only).
      const gates = await warren('node', 'reset', cluster, `${NAME}${i}`);
      expect(gates.stdout + gates.stderr).toContain('gate');
      expect(await marks(i)).toBe('');
    },
  );
});
