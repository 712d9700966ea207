import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { addDashboardCommand } from '../../../src/cli/dashboard-command.js';
import { buildProgram } from '../../../src/cli/main.js';

interface Service {
  command?: string[];
  profiles?: string[];
  ports?: string[];
  healthcheck?: { test?: string[] };
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
      // A Redis password only ever from .env, never written in the file.
      expect(service?.environment?.REDIS_PASSWORD).toBe('${REDIS_PASSWORD:-}');
      for (const volume of service?.volumes ?? []) expect(volume).toMatch(/:ro$/);
    }
    expect(bot?.build).toBe('.');
    expect(worker?.image).toBe(bot?.image);
    expect(worker?.deploy?.replicas).toBe(2);
    expect(worker?.volumes?.some((v) => v.includes('/etc/warren/ssh/'))).toBe(true);
    // The key the workers mount is where the config's hosts would point (privateKeyPath).
    expect(worker?.environment?.WARREN_METRICS_PORT).toBe('9464');
  });

  it(
    'runs the read-only dashboard only on request, with the CLI command, ' + 'on loopback, login from the environment',
    async () => {
      const compose = parse(await readFile('compose.yaml', 'utf8')) as { services: Record<string, Service> };
      const { bot, dashboard } = compose.services;
      const [name, ...args] = dashboard?.command ?? [];

      // A profile keeps plain `docker compose up` from starting it: off by default.
      expect(dashboard?.profiles).toEqual(['dashboard']);
      expect(dashboard?.image).toBe(bot?.image);
      expect(dashboard?.environment?.REDIS_URL).toBe('redis://redis:6379');
      expect(dashboard?.environment?.REDIS_PASSWORD).toBe('${REDIS_PASSWORD:-}');

      // The arguments are ones the dashboard command accepts, and nothing else (no credentials in argv).
      const command = addDashboardCommand(new Command('warren'), () => undefined);
      expect(name).toBe(command.name());
      expect(buildProgram(() => undefined).commands.map((c) => c.name())).toContain(name);
      const parsed = command.parseOptions(args);
      expect(parsed).toEqual({ operands: [], unknown: [] });
      const options = command.opts<{ host: string; port: string }>();
      expect(options.host).toBe('0.0.0.0');

      // Published on the host's loopback only, to the port the command listens on.
      expect(dashboard?.ports).toEqual([`127.0.0.1:${options.port}:${options.port}`]);
      expect(dashboard?.healthcheck?.test?.join(' ')).toContain(`127.0.0.1:${options.port}/`);

      // Credentials come from the operator's environment (.env), never written into the file.
      expect(dashboard?.environment?.WARREN_DASHBOARD_USER).toBe('${WARREN_DASHBOARD_USER:-}');
      expect(dashboard?.environment?.WARREN_DASHBOARD_PASSWORD).toBe('${WARREN_DASHBOARD_PASSWORD:-}');
      // It needs neither the inventory nor the SSH key.
      expect(dashboard?.volumes).toBeUndefined();
    },
  );
});
