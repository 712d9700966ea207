import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { startHarness } from './harness.js';
import type { Harness } from './harness.js';

/** The documented-safe cookie path, on real RabbitMQ: full stop, write, start (live switch off). */
describe('cluster create with liveCookieSwitch off', () => {
  let lab: Lab;
  let harness: Harness;

  beforeAll(async () => {
    lab = await labUp(2);
    const config: WarrenConfig = await loadConfig(lab.configPath);
    harness = await startHarness({
      ...config,
      clusters: config.clusters.map((c) => ({ ...c, liveCookieSwitch: false })),
    });
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
    await lab?.down();
  }, 120_000);

  it('stops the joining node once, writes the cookie with its VM down, starts it, joins it', async () => {
    const { final } = await harness.create('lab');
    expect(final.error).toBeUndefined();
    expect(final.state).toBe('completed');
    const kinds: [RegExp, string][] = [
      [/rabbitmqctl -q shutdown/, 'shutdown'],
      [/base64 -d/, 'write cookie'],
      [/service rabbitmq-server start/, 'start'],
      [/join_cluster/, 'join'],
    ];
    const sequence = harness.commands
      .filter((c) => c.host === 'lab2')
      .flatMap((c) => kinds.filter(([re]) => re.test(c.command)).map(([, kind]) => kind));
    expect(sequence).toEqual(['shutdown', 'write cookie', 'start', 'join']);
    expect(harness.commands.filter((c) => /erlang:set_cookie/.test(c.command))).toEqual([]);
    expect(
      harness.commands.filter((c) => c.host === 'lab1' && /shutdown|service rabbitmq-server start/.test(c.command)),
    ).toEqual([]);
    const status = await lab.exec(1, 'rabbitmqctl cluster_status --formatter json </dev/null');
    expect((JSON.parse(status.stdout) as { running_nodes: string[] }).running_nodes.sort()).toEqual([
      'rabbit@lab1',
      'rabbit@lab2',
    ]);
    expect(await lab.readCookie(2)).toBe(await lab.readCookie(1));
  }, 240_000);
});
