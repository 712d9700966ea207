import type { Host } from '../config/schema.js';

/**
 * oslo.messaging's transport_url for the cluster, with USER/PASS placeholders: warren never
 * knows, stores or prints an AMQP password.
 */
export function transportUrlTemplate(hosts: readonly Host[], port = 5672, vhost = '/'): string {
  const path = vhost === '/' ? '/' : `/${encodeURIComponent(vhost)}`;
  return (
    `rabbit://` +
    `${hosts.map((h) => `USER:PASS@${h.address.includes(':') ? `[${h.address}]` : h.address}:${port}`).join(',')}` +
    `${path}`
  );
}
