import type { Command } from 'commander';
import { z } from 'zod';
import { WarrenError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { assertDashboardCredentials, dashboardCredentialsFromEnv } from '../observability/dashboard-auth.js';
import { DEFAULT_DASHBOARD_HOST, DEFAULT_DASHBOARD_PORT, startDashboard } from '../observability/dashboard.js';
import { connectRedis, redisSettingsFromEnv } from '../queue/redis.js';

export interface DashboardCommandOptions {
  port: string;
  host: string;
  prefix: string;
}

// 0 lets the OS pick a free port (the ready log line says which).
const Port = z.coerce.number().int().min(0).max(65535);

/** Resolves on the first SIGTERM or SIGINT. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve(signal);
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.once('SIGTERM', onTerm);
    process.once('SIGINT', onInt);
  });
}

/**
 * `warren dashboard`: the read-only Bull Board until SIGTERM/SIGINT. Credentials come only from
 * WARREN_DASHBOARD_USER / WARREN_DASHBOARD_PASSWORD; they are checked before Redis is dialled, so a
 * misconfigured start fails at once with `config.invalid`. Returns the exit code.
 */
export async function runDashboard(
  options: DashboardCommandOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const credentials = assertDashboardCredentials(dashboardCredentialsFromEnv(env));
  const port = Port.safeParse(options.port);
  if (!port.success)
    throw new WarrenError('config.invalid', `--port must be a TCP port (0-65535), got ${JSON.stringify(options.port)}`);
  const redis = redisSettingsFromEnv(env);
  const logger = createLogger({ name: 'warren-dashboard' });
  const connection = connectRedis(redis, { logger });
  try {
    const dashboard = await startDashboard({
      connection,
      prefix: options.prefix,
      port: port.data,
      host: options.host,
      ...credentials,
      logger,
    });
    const signal = await untilSignal();
    logger.info({ signal }, 'closing');
    await dashboard.close();
    await connection.quit();
  } catch (error) {
    // quit() would wait for a Redis that may be the reason we failed; drop the connection instead.
    connection.disconnect();
    throw error;
  }
  return 0;
}

/**
 * Registers `warren dashboard [--port 3001] [--host 127.0.0.1]` on the program; the queue prefix is the global
 * `--prefix`.
 */
export function addDashboardCommand(program: Command, setExitCode: (code: number) => void): Command {
  return program
    .command('dashboard')
    .description(
      'serve the read-only job dashboard (Bull Board) until SIGTERM; login ' +
        'from WARREN_DASHBOARD_USER and WARREN_DASHBOARD_PASSWORD',
    )
    .option('--port <port>', 'port to listen on', String(DEFAULT_DASHBOARD_PORT))
    .option(
      '--host <address>',
      'address to bind: keep loopback unless a TLS proxy or container network sits in front',
      DEFAULT_DASHBOARD_HOST,
    )
    .action(async (options: { port: string; host: string }) => {
      setExitCode(await runDashboard({ ...options, prefix: program.opts<{ prefix: string }>().prefix }));
    });
}
