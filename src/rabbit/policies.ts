import { z } from 'zod';

/**
 * `rabbitmqctl list_policies --formatter json --vhost V`, only what warren reads. Measured on
 * 3.10.8: `definition` is a JSON *string* (`"{\"ha-mode\":\"all\"}"`), read into an object here;
 * an object is taken as it is, for versions that print one. Bounded: a vhost with more than 10 000 policies is not
 * real.
 */
export const Policies = z
  .array(
    z
      .object({
        vhost: z.string().max(255).optional(),
        name: z.string().max(255),
        pattern: z.string().max(2_000).optional(),
        'apply-to': z.string().max(64).optional(),
        // a string that is not a JSON object is the host's bad output (status.unparseable), not a SyntaxError
        definition: z.union([
          z
            .string()
            .max(20_000)
            .transform((text, ctx): Record<string, unknown> => {
              try {
                const parsed: unknown = JSON.parse(text);
                if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
                  return parsed as Record<string, unknown>;
              } catch {
                // reported below
              }
              ctx.addIssue({ code: 'custom', message: 'a policy definition that is a JSON object' });
              return z.NEVER;
            }),
          z.record(z.string(), z.unknown()),
        ]),
      })
      .loose(),
  )
  .max(10_000);
export type Policies = z.infer<typeof Policies>;

/** A policy that mirrors classic queues (`ha-mode` set): what RabbitMQ 4.0 no longer starts with. */
export interface MirroringPolicy {
  vhost: string;
  name: string;
  pattern: string;
  haMode: string;
}

/** The policies of one vhost that set `ha-mode` (classic queue mirroring). */
export function mirroringPolicies(vhost: string, policies: Policies): MirroringPolicy[] {
  return policies.flatMap((p) => {
    const haMode = p.definition['ha-mode'];
    if (haMode === undefined) return [];
    return [
      {
        vhost: p.vhost ?? vhost,
        name: p.name,
        pattern: p.pattern ?? '',
        haMode: typeof haMode === 'string' ? haMode : JSON.stringify(haMode).slice(0, 40),
      },
    ];
  });
}
