import type { BotDeps, SlackRequest } from '../deps.js';
import { buildPlan } from '../messages/plan.js';

/** After the ack: the commands a create would run per host, to the requester; nothing is queued. */
export async function replyWithPlan(deps: BotDeps, request: SlackRequest, cluster: string, options: { offerCreate: boolean }): Promise<void> {
  const plan = await deps.planOperation(deps.config, 'cluster.create', cluster);
  await request.reply(buildPlan(cluster, plan, options));
}
