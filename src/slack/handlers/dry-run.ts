import type { Logger } from '../../log/logger.js';
import { planClusterCreate } from '../../requests/cluster-create.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { buildPlan } from '../messages/plan.js';
import { requestPortsOf } from '../request-ports.js';

/** After the ack: the commands a create would run per host, to the requester; nothing is queued. */
export async function replyWithPlan(
  deps: BotDeps,
  request: SlackRequest,
  cluster: string,
  options: { offerCreate: boolean },
  log: Logger,
): Promise<void> {
  const plan = await planClusterCreate(requestPortsOf(deps, log), cluster);
  await request.reply(buildPlan(cluster, plan, options));
}
