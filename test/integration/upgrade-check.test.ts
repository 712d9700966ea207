/**
 * `warren upgrade-check` on real RabbitMQ 3.10.8, 4.0.5 and 4.3.6 nodes: one lab of six hosts
 * (two per release, lab `upc`), three 2-node clusters made by warren's own create, the report read
 * through the CLI (dist/) and the Slack card built from it; then `warren feature-flags enable --yes` through the
 * harness's real worker, after which the card lists no flag. Needs root; the release trees are built
 * first if missing. Run: flock /tmp/warren-labtest.lock npx vitest run test/integration/upgrade-check.test.ts
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { DEFAULT_HA_POLICY_PATTERN } from '../../src/config/schema.js';
import { flagsNotEnabled } from '../../src/rabbit/feature-flags.js';
import type { FeatureFlags } from '../../src/rabbit/feature-flags.js';
import { buildUpgradeCard } from '../../src/slack/messages/upgrade-card.js';
import type { UpgradeReport } from '../../src/status/read-upgrade-readiness.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { startHarness } from './harness.js';
import type { Harness } from './harness.js';

const exec = promisify(execFile);
const CLI = 'dist/src/cli/bin.js';
const NAME = 'upc';
/** Cluster -> its two lab hosts (1-based) and what they run. */
const CLUSTERS = {
  upc310: { hosts: [1, 2], rabbitmq: '3.10.8', erlang: '25.2.3' },
  upc40: { hosts: [3, 4], rabbitmq: '4.0.5', erlang: '27.3.4.1' },
  upc43: { hosts: [5, 6], rabbitmq: '4.3.6', erlang: '29.1.1' },
} as const;
/** The stable flag each 4.x seed is started without (RABBITMQ_FEATURE_FLAGS on a fresh node), as after an upgrade. */
const LEFT_OFF = { upc40: 'rabbit_exchange_type_local_random', upc43: 'track_qq_members_uids' } as const;

describe('upgrade-check on 3.10.8, 4.0.5 and 4.3.6 clusters (lab upc)', () => {
  let lab: Lab;
  let harness: Harness;
  let configPath: string;

  const warren = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await exec(
        'node',
        [CLI, '--config', configPath, '--prefix', harness.prefix, ...args],
        { timeout: 120_000, env: { ...process.env, LOG_LEVEL: 'warn' } },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  const report = async (cluster: string, ...args: string[]): Promise<{ code: number; report: UpgradeReport }> => {
    const r = await warren('upgrade-check', cluster, ...args, '--json');
    expect(r.stdout, r.stderr).toMatch(/^\{/);
    return { code: r.code, report: JSON.parse(r.stdout) as UpgradeReport };
  };
  /** The node's own view of its flags, through the backdoor (not through warren). */
  const ownFlagsNotEnabled = async (i: number): Promise<string[]> => {
    const r = await lab.exec(i, 'rabbitmqctl -q list_feature_flags --formatter json name state stability </dev/null');
    expect(r.code, r.stderr).toBe(0);
    return flagsNotEnabled(JSON.parse(r.stdout) as FeatureFlags);
  };

  /**
   * Restarts host i's RabbitMQ as a fresh node with every flag but `flag` (the env var is read only by a node without
   * data).
   */
  async function startWithout(i: number, flag: string): Promise<void> {
    const listed = await lab.exec(i, 'rabbitmqctl -q list_feature_flags --formatter json name stability </dev/null');
    expect(listed.code, listed.stderr).toBe(0);
    const keep = (JSON.parse(listed.stdout) as { name: string; stability: string }[])
      .filter((f) => f.name !== flag && f.stability !== 'experimental')
      .map((f) => f.name);
    const script = [
      'rabbitmqctl -q shutdown </dev/null',
      'rm -rf /var/lib/rabbitmq/mnesia',
      `echo 'FEATURE_FLAGS=${keep.join(',')}' >> /etc/rabbitmq/rabbitmq-env.conf`,
      'service rabbitmq-server start </dev/null >/dev/null',
      'rabbitmqctl -q await_startup --timeout 60 </dev/null',
    ].join(' && ');
    const r = await lab.exec(i, script, { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(await ownFlagsNotEnabled(i)).toEqual([flag]);
  }

  beforeAll(async () => {
    await exec('npm', ['run', '-s', 'build']);
    lab = await labUp(6, { name: NAME, releases: ['machine', 'machine', 'trixie', 'trixie', 'forky', 'forky'] });
    const labConfig = await loadConfig(lab.configPath);
    const clusters = Object.entries(CLUSTERS).map(([name, c]) => ({
      name,
      nodes: c.hosts.map((i) => `${NAME}${i}`),
      seed: `${NAME}${c.hosts[0]}`,
    }));
    configPath = join(lab.dir, 'upgrade-check.yaml');
    await writeFile(configPath, stringify({ ...labConfig, clusters }));
    await Promise.all([
      startWithout(CLUSTERS.upc40.hosts[0], LEFT_OFF.upc40),
      startWithout(CLUSTERS.upc43.hosts[0], LEFT_OFF.upc43),
    ]);
    harness = await startHarness(await loadConfig(configPath));
    const created = await Promise.all(Object.keys(CLUSTERS).map((name) => harness.create(name)));
    for (const { final } of created) expect(final.error).toBeUndefined();
  }, 600_000);

  afterAll(async () => {
    await harness?.close();
    await lab?.down();
  }, 120_000);

  it(
    '3.10.8 with the ha-all policy create set: --to 4.0 names the ' +
      'mirroring policy as the 4.0 blocker, on the card too',
    async () => {
      const { code, report: read } = await report('upc310', '--to', '4.0');
      expect(code).toBe(1);
      expect(read.nodes).toEqual(
        CLUSTERS.upc310.hosts.map((i) => ({
          node: `rabbit@${NAME}${i}`,
          host: `${NAME}${i}`,
          rabbitmqVersion: '3.10.8',
          erlangVersion: '25.2.3',
          flagsNotEnabled: [],
          deprecatedInUse: 'unsupported',
          alarms: [],
        })),
      );
      expect(read.mirroringPolicies).toEqual([
        { vhost: '/', name: 'ha-all', pattern: DEFAULT_HA_POLICY_PATTERN, haMode: 'all' },
      ]);
      expect(read.verdict).toMatchObject({
        from: '3.10',
        to: '4.0',
        path: 'blue-green',
        hops: ['3.11', '3.12', '3.13', '4.0'],
        ready: false,
      });
      expect(read.verdict.blockers.map((b) => b.kind)).toEqual(['mirroring']);
      const card = buildUpgradeCard(read);
      expect(card.text).toBe(
        'upc310 is not ready for 4.0 (blue/green): classic queue mirroring ' +
          'policies block 4.0 (4.0 removed mirroring): ha-all (vhost /, ha-mode ' +
          'all)',
      );
      // the terminal says the same, with what to do
      const text = await warren('upgrade-check', 'upc310', '--to', '4.0');
      expect(text.stdout).toMatch(/✗ classic queue mirroring policies block 4\.0 .*ha-all/);
      expect(text.stdout).toMatch(/what to do: .*rabbitmqctl clear_policy --vhost <vhost> <name>/);
      // the next series is still fine: mirroring only warns there
      const next = await report('upc310');
      expect(next.report.verdict).toMatchObject({ to: '3.11', path: 'rolling', ready: true });
    },
    120_000,
  );

  it.each([
    ['upc40', '4.1'],
    ['upc43', undefined],
  ] as const)(
    '%s: versions per node and the flags not enabled, as each node itself lists them',
    async (cluster, next) => {
      const { code, report: read } = await report(cluster);
      const { hosts, rabbitmq, erlang } = CLUSTERS[cluster];
      expect(read.nodes.map((n) => [n.node, n.rabbitmqVersion, n.erlangVersion, n.deprecatedInUse, n.alarms])).toEqual(
        hosts.map((i) => [`rabbit@${NAME}${i}`, rabbitmq, erlang, [], []]),
      );
      for (const [k, i] of hosts.entries()) expect(read.nodes[k].flagsNotEnabled).toEqual(await ownFlagsNotEnabled(i));
      expect(read.nodes[0].flagsNotEnabled).toEqual([LEFT_OFF[cluster]]);
      expect(read.mirroringPolicies).toEqual([]);
      expect(code).toBe(1);
      expect(read.verdict.blockers.map((b) => b.kind)).toEqual(['feature-flags']);
      expect(read.verdict.to).toBe(next);
      expect(
        buildUpgradeCard(read)
          .blocks.map((b) => JSON.stringify(b))
          .join('\n'),
      ).toContain(`feature flags not enabled: \`${LEFT_OFF[cluster]}\``);
    },
    120_000,
  );

  /** The worker's own record of the enable commands it sent (every remote command is observed). */
  const enablesSentTo = (hosts: readonly number[]): string[] =>
    harness.commands
      .filter((c) => /enable_feature_flag/.test(c.command) && hosts.some((i) => c.host === `${NAME}${i}`))
      .map((c) => `${c.host}: ${c.command}`);

  // the two clusters side by side: their hosts, jobs and the commands asserted are their own
  it.concurrent.each(['upc40', 'upc43'] as const)(
    '%s: on 4.x it lists the flags not enabled, and after `feature-flags enable` none (CLI --yes, real worker)',
    async (cluster) => {
      const { hosts } = CLUSTERS[cluster];
      const flag = LEFT_OFF[cluster];
      expect((await report(cluster)).report.nodes[0].flagsNotEnabled).toEqual([flag]);

      const dry = await warren('feature-flags', 'enable', cluster, '--dry-run');
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/gates: ALLOWED/);
      expect(dry.stdout).toContain(`would enable 1 stable feature flag(s): ${flag}`);
      expect(enablesSentTo(hosts)).toEqual([]);

      const started = Date.now();
      const enabled = await warren('feature-flags', 'enable', cluster, '--yes');
      expect(enabled.code, enabled.stderr + enabled.stdout).toBe(0);
      expect(enabled.stdout).toContain(`✓ ${cluster}: enabled 1 feature flag(s): ${flag}`);
      console.log(`feature-flags enable ${cluster}: ${Date.now() - started} ms`);
      expect(enablesSentTo(hosts)).toEqual([`${NAME}${hosts[0]}: rabbitmqctl -q enable_feature_flag all </dev/null`]);
      // every node says so itself, and the report card shows none
      for (const i of hosts) expect(await ownFlagsNotEnabled(i)).toEqual([]);
      const { code, report: after } = await report(cluster);
      expect(after.nodes.map((n) => n.flagsNotEnabled)).toEqual(hosts.map(() => []));
      expect(after.verdict.blockers).toEqual([]);
      // 4.0 is ready for 4.1 now; 4.3 has no next series warren knows, so no path is judged ready
      expect([code, after.verdict.path, after.verdict.ready]).toEqual(
        cluster === 'upc40' ? [0, 'rolling', true] : [1, 'none', false],
      );
      const card = buildUpgradeCard(after)
        .blocks.map((b) => JSON.stringify(b))
        .join('\n');
      expect(card).not.toContain('feature flags not enabled');

      // idempotent: nothing left to enable, no command sent
      const again = await warren('feature-flags', 'enable', cluster, '--yes');
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain(`✓ ${cluster}: nothing to enable, every stable feature flag was already enabled`);
      expect(enablesSentTo(hosts)).toHaveLength(1);
    },
    120_000,
  );

  it('3.10.8: nothing to enable on a fresh cluster; with a node down it is refused, naming the node', async () => {
    const { hosts } = CLUSTERS.upc310;
    const fresh = await warren('feature-flags', 'enable', 'upc310', '--yes');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).toContain('✓ upc310: nothing to enable, every stable feature flag was already enabled');

    const down = await lab.exec(hosts[1], 'rabbitmqctl -q shutdown </dev/null', { timeoutMs: 60_000 });
    expect(down.code, down.stderr).toBe(0);
    try {
      const refused = await warren('feature-flags', 'enable', 'upc310', '--yes');
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/gates: REFUSED/);
      expect(refused.stdout).toContain(
        `${NAME}${hosts[1]} (RabbitMQ down): a feature flag is enabled on every node at once and cannot be enabled ` +
          'with a node missing',
      );
      expect(refused.stdout).toContain(`to make it possible: Start RabbitMQ on ${NAME}${hosts[1]}`);
      expect(refused.stderr).toContain('feature-flags enable upc310 refused by the safety gates');
    } finally {
      const up = await lab.exec(
        hosts[1],
        'service rabbitmq-server start </dev/null >/dev/null && rabbitmqctl -q await_startup --timeout 60 </dev/null',
        { timeoutMs: 120_000 },
      );
      expect(up.code, up.stderr).toBe(0);
    }
    expect(enablesSentTo(hosts)).toEqual([]);
  }, 180_000);
});
