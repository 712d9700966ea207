import { z } from 'zod';
import type { Logger } from '../log/logger.js';

const UserId = z.string().regex(/^[UW][A-Z0-9]+$/, 'a Slack user id');
const ChannelId = z.string().regex(/^[CDG][A-Z0-9]+$/, 'a Slack channel id');

/** The fields of a slash command we act on; Bolt has checked the signature, not the shape. */
export const SlashCommandPayload = z.object({
  command: z.string(),
  text: z.string(),
  user_id: UserId,
  channel_id: ChannelId,
  team_domain: z.string().optional(),
});
export type SlashCommandPayload = z.infer<typeof SlashCommandPayload>;

/** The fields of a block_actions payload (a button press) we act on. */
export const BlockActionPayload = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: UserId }),
  channel: z.object({ id: ChannelId }),
  team: z.object({ domain: z.string().optional() }).nullish(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().max(200).optional() })).min(1),
});
export type BlockActionPayload = z.infer<typeof BlockActionPayload>;

/**
 * A button press's payload, or undefined (logged) when it is not the shape we act on: the press is
 * already acked, so a payload that fails here is dropped with a log line, not answered.
 */
export function parseBlockAction(body: unknown, logger: Logger): BlockActionPayload | undefined {
  const payload = BlockActionPayload.safeParse(body);
  if (payload.success) return payload.data;
  logger.warn({ issues: payload.error.issues.map((i) => i.path.join('.')) }, 'block action payload rejected');
  return undefined;
}
