import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { createAdaptorServer } from '@hono/node-server';
import type { Http2Bindings, HttpBindings } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { openOperationsQueue } from '../queue/queue.js';
import type { OperationsQueue } from '../queue/queue.js';
import {
  DASHBOARD_CHALLENGE,
  LoginThrottle,
  assertDashboardCredentials,
  createBasicAuthCheck,
} from './dashboard-auth.js';
import type { LoginThrottleOptions } from './dashboard-auth.js';
import type { DashboardCredentials } from './dashboard-auth.js';

export const DEFAULT_DASHBOARD_PORT = 3001;
/** Loopback unless the operator says otherwise: the board is for an SSH tunnel or a TLS proxy, not the open network. */
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';

/** Methods the dashboard answers; every Bull Board action (retry, clean, promote, pause…) is a PUT, POST or PATCH. */
const READ_METHODS = new Set(['GET', 'HEAD']);

type FetchHandler = (request: Request, env?: HttpBindings | Http2Bindings) => Promise<Response>;

/**
 * Bull Board for the operations queue in read-only mode: the UI shows no action buttons and the API
 * answers 405 to every action. It has no authentication of its own: serve it only through
 * `createDashboardHandler`.
 */
export function createReadOnlyBoard(queue: OperationsQueue): FetchHandler {
  const serverAdapter = new HonoAdapter(serveStatic).setBasePath('/');
  createBullBoard({
    queues: [new BullMQAdapter(queue, { readOnlyMode: true, allowRetries: false })],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'warren' } },
  });
  const app = serverAdapter.registerPlugin();
  return async (request, env) => app.fetch(request, env);
}

/**
 * The dashboard's whole request path: Basic auth on every path (page, static assets, API, even
 * unknown paths), then only reads reach the board, so a mutating call is refused here as well as
 * by Bull Board's own read-only mode.
 */
export function createDashboardHandler(options: {
  queue: OperationsQueue;
  credentials: DashboardCredentials;
  logger?: Logger;
  throttle?: LoginThrottle;
}): FetchHandler {
  const authorized = createBasicAuthCheck(assertDashboardCredentials(options.credentials));
  const board = createReadOnlyBoard(options.queue);
  const throttle = options.throttle ?? new LoginThrottle();
  return async (request, env) => {
    const authorization = request.headers.get('authorization');
    // Behind a reverse proxy every client is the proxy: it is throttled as one (see README).
    const client = env?.incoming.socket.remoteAddress ?? 'unknown';
    const wait = throttle.waitSeconds(client);
    if (wait > 0) {
      if (throttle.firstRefusalOfWait(client))
        options.logger?.warn(
          { code: 'dashboard.throttled', remote: client, retryAfterSeconds: wait },
          'dashboard login throttled: too many failed logins from this client',
        );
      return new Response('too many failed logins; wait and try again\n', {
        status: 429,
        headers: {
          'retry-after': String(wait),
          'content-type': 'text/plain; charset=utf-8',
          'cache-control': 'no-store',
        },
      });
    }
    if (!authorized(authorization)) {
      // A browser's first request carries no credentials; only a wrong guess counts, and is worth a log line.
      if (authorization) {
        throttle.failed(client);
        options.logger?.warn({ path: new URL(request.url).pathname, remote: client }, 'dashboard login refused');
      }
      return new Response('authentication required\n', {
        status: 401,
        headers: {
          'www-authenticate': DASHBOARD_CHALLENGE,
          'content-type': 'text/plain; charset=utf-8',
          'cache-control': 'no-store',
        },
      });
    }
    throttle.succeeded(client);
    if (!READ_METHODS.has(request.method)) {
      return new Response('the dashboard is read-only\n', {
        status: 405,
        headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' },
      });
    }
    return board(request, env);
  };
}

export interface DashboardServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface DashboardOptions {
  /** The caller's Redis connection; the dashboard's queue shares it and leaves closing it to the caller. */
  connection: Redis;
  /** The queue's Redis key prefix, as the workers use it (`--prefix`, default `warren`). */
  prefix: string;
  port?: number;
  host?: string;
  username?: string;
  password?: string;
  logger?: Logger;
  /** Failed-login backoff per client address (defaults: 10 free failures, then 1 s doubling to 15 min). */
  loginThrottle?: LoginThrottleOptions;
}

/**
 * Serves the read-only job dashboard until `close()`. Refuses to start (`config.invalid`) without
 * both credentials or with a password shorter than 12 characters, before it touches Redis or a port.
 */
export async function startDashboard(options: DashboardOptions): Promise<DashboardServer> {
  const credentials = assertDashboardCredentials({ username: options.username, password: options.password });
  const queue = openOperationsQueue(options.connection, options.prefix);
  const handler = createDashboardHandler({
    queue,
    credentials,
    throttle: new LoginThrottle(options.loginThrottle),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const server = createAdaptorServer({ fetch: handler }) as Server;
  const host = options.host ?? DEFAULT_DASHBOARD_HOST;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? DEFAULT_DASHBOARD_PORT, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await queue.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  options.logger?.info({ host, port, prefix: options.prefix }, 'dashboard ready');
  return {
    host,
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A browser keeps its connection open; without this, close() would wait for it to time out.
      server.closeAllConnections();
      await closed;
      await queue.close();
    },
  };
}
