import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';

interface Service {
  command?: string[];
  image?: string;
  build?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  deploy?: { replicas?: number };
}

/** Read, not run (no Docker engine here): the compose file must run the image's own commands safely. */
describe('compose.yaml', () => {
  it('runs Redis durable, one bot and two workers with the CLI commands, config and key read-only', async () => {
    const compose = parse(await readFile('compose.yaml', 'utf8')) as { services: Record<string, Service> };
    const { redis, bot, worker } = compose.services;
    const commands = buildProgram(() => undefined).commands.map((c) => c.name());

    expect(redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
    expect(bot?.command?.[0]).toBe('bot');
    expect(worker?.command?.[0]).toBe('worker');
    for (const service of [bot, worker]) {
      expect(commands).toContain(service?.command?.[0]);
      expect(service?.environment?.REDIS_URL).toBe('redis://redis:6379');
      for (const volume of service?.volumes ?? []) expect(volume).toMatch(/:ro$/);
    }
    expect(bot?.build).toBe('.');
    expect(worker?.image).toBe(bot?.image);
    expect(worker?.deploy?.replicas).toBe(2);
    expect(worker?.volumes?.some((v) => v.includes('/etc/warren/ssh/'))).toBe(true);
    // The key the workers mount is where the config's hosts would point (privateKeyPath).
    expect(worker?.environment?.WARREN_METRICS_PORT).toBe('9464');
  });
});
