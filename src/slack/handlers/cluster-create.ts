import { messageOf } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { JobData } from '../../operations/schema.js';
import { requestClusterCreate } from '../../requests/cluster-create.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { initialJobView } from '../job-view.js';
import { buildJobCard, buildNotStartedCard } from '../messages/job-card.js';
import { permalinkFor } from '../messages/mrkdwn.js';
import type { SlackMessage } from '../messages/mrkdwn.js';
import { buildBusyNotice } from '../messages/plan.js';
import { requestPortsOf } from '../request-ports.js';

/**
 * After the ack: post the job card, then ask the request layer to queue the create with the
 * card's channel and ts (a bot that dies after the add finds the card through the job). The
 * enqueue's answer is the only busy verdict: on busy the card is taken back (or, if Slack will
 * not delete it, marked not started) and the requester is pointed at the running operation.
 */
export async function startClusterCreate(
  deps: BotDeps,
  request: SlackRequest,
  cluster: string,
  log: Logger,
): Promise<void> {
  const requestedAt = new Date().toISOString();
  const card = buildJobCard(initialJobView('', 'cluster.create', cluster), { user: request.user, requestedAt });
  // Slash commands have no thread of their own: the card is the message the job's thread hangs from.
  const posted = await deps.client.chat.postMessage({ channel: request.channel, text: card.text, blocks: card.blocks });
  const cardTs = posted.ts;
  if (!cardTs) throw new Error('chat.postMessage returned no ts for the job card');
  const result = await requestClusterCreate(requestPortsOf(deps, log), {
    cluster,
    allowWipe: false,
    origin: { kind: 'slack', user: request.user, channel: request.channel, cardTs },
    requestedAt,
  });
  if (result.kind === 'busy') {
    log.info({ runningJobId: result.jobId }, 'create refused: cluster busy');
    const running = await describeRunning(deps, result.jobId, request.teamDomain);
    await withdrawCard(deps, request, cardTs, buildNotStartedCard(cluster, request.user, running.link), log);
    await request.reply(buildBusyNotice(cluster, running));
    return;
  }
  await deps.store.saveCard(result.jobId, {
    channel: request.channel,
    ts: cardTs,
    user: request.user,
    operation: 'cluster.create',
    cluster,
    permalink: permalinkFor(request.teamDomain, request.channel, cardTs),
    requestedAt,
  });
  deps.reporter.track(result.jobId);
  log.info({ jobId: result.jobId, cardTs }, 'cluster create queued');
}

/** A card for a job that was never queued leaves the channel; if Slack refuses the delete, it says it never started. */
async function withdrawCard(
  deps: BotDeps,
  request: SlackRequest,
  ts: string,
  notStarted: SlackMessage,
  log: Logger,
): Promise<void> {
  try {
    await deps.client.chat.delete({ channel: request.channel, ts });
  } catch (error) {
    log.info({ err: messageOf(error) }, 'card of a create not started could not be deleted; marking it');
    await deps.client.chat.update({ channel: request.channel, ts, text: notStarted.text, blocks: notStarted.blocks });
  }
}

/** Where the operation holding a cluster can be followed: its card, or who started it from the CLI. */
export async function describeRunning(
  deps: BotDeps,
  jobId: string,
  teamDomain: string | undefined,
): Promise<{ jobId: string; link?: string; by?: string }> {
  const card = await deps.store.getCard(jobId);
  if (card) return { jobId, link: card.permalink ?? permalinkFor(teamDomain, card.channel, card.ts) };
  const job = await deps.queue.getJob(jobId);
  const data = JobData.safeParse(job?.data);
  if (!data.success) return { jobId };
  const { origin } = data.data;
  return origin.kind === 'slack'
    ? { jobId, link: permalinkFor(teamDomain, origin.channel, origin.cardTs) }
    : { jobId, by: `${origin.user} from the CLI` };
}
