import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthReport {
  healthy: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export interface ObservabilityServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `/metrics` (Prometheus text) and `/healthz` (200 when every check passes, else 503, JSON either
 * way) on their own port, so a load balancer or Prometheus never touches the Slack receiver.
 */
export async function startObservabilityServer(options: {
  port: number;
  host?: string;
  registry: Registry;
  health: () => Promise<HealthReport>;
}): Promise<ObservabilityServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const answer = async () => {
      if (request.method !== 'GET') {
        response.writeHead(405, { allow: 'GET' }).end();
      } else if (path === '/metrics') {
        response.writeHead(200, { 'content-type': options.registry.contentType }).end(await options.registry.metrics());
      } else if (path === '/healthz') {
        const report = await options.health();
        response
          .writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify(report));
      } else {
        response.writeHead(404).end();
      }
    };
    answer().catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(error instanceof Error ? error.message : 'error');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
