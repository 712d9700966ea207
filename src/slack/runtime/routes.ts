import { messageOf } from '../../errors.js';
import type { ServerResponse } from 'node:http';
import type { CustomRoute } from '@slack/bolt';
import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import type { HealthReport } from '../../observability/server.js';

export interface ObservabilityRouteOptions {
  logger: Logger;
  /** What `GET /healthz` reports (200 when healthy, else 503, JSON); without it, a plain `ok`. */
  health?: () => Promise<HealthReport>;
  /** What `GET /metrics` serves (Prometheus text); without it, no route (404). */
  metrics?: Registry;
}

/**
 * `GET /healthz` (load balancers) and `GET /metrics` (Prometheus) as Bolt custom routes, for either
 * receiver: Bolt serves them beside Slack's endpoint (HTTP) or on a port of their own (Socket Mode),
 * with no signature, and never hands them to the app.
 */
export function observabilityRoutes(options: ObservabilityRouteOptions): CustomRoute[] {
  const { logger, health, metrics } = options;
  const routes: CustomRoute[] = [
    {
      path: '/healthz',
      method: 'GET',
      handler: (_req, res) => {
        if (!health) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('ok');
          return;
        }
        health().then(
          (report) => {
            res.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' });
            res.end(JSON.stringify(report));
          },
          (error: unknown) => failed(res, logger, error, 'health check failed'),
        );
      },
    },
  ];
  if (metrics) {
    routes.push({
      path: '/metrics',
      method: 'GET',
      handler: (_req, res) => {
        metrics.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': metrics.contentType });
            res.end(text);
          },
          (error: unknown) => failed(res, logger, error, 'metrics could not be collected'),
        );
      },
    });
  }
  return routes;
}

function failed(res: ServerResponse, logger: Logger, error: unknown, message: string): void {
  logger.error({ err: messageOf(error) }, message);
  if (!res.headersSent) {
    res.writeHead(500);
    res.end();
  }
}
