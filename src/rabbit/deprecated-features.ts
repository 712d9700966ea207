import { z } from 'zod';
import { compareVersions } from './version.js';

/**
 * `rabbitmq-diagnostics list_deprecated_features --used --formatter json`, only what warren reads.
 * Measured: 4.0.5 prints `name` and `deprecation_phase`, 4.3.6 adds `state`; 3.10.8 has no such
 * command (exit 64 "Command 'list_deprecated_features' not found"). A node has a handful of
 * deprecated features: more than a thousand rows is a broken or hostile host.
 */
export const DeprecatedFeatures = z
  .array(z.object({ name: z.string().max(255), deprecation_phase: z.string().max(64).optional() }).loose())
  .max(1_000);
export type DeprecatedFeatures = z.infer<typeof DeprecatedFeatures>;

/** The command exists from 3.13 (deprecated features came with it); older nodes are not asked. */
export function hasDeprecatedFeatures(rabbitmqVersion: string | undefined): boolean {
  return rabbitmqVersion === undefined || compareVersions(rabbitmqVersion, '3.13') >= 0;
}
