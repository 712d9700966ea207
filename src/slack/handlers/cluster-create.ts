import type { Logger } from '../../log/logger.js';
import { enqueueOperation, runningOperationFor } from '../../queue/enqueue.js';
import { JobData } from '../../operations/schema.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { initialJobView } from '../job-view.js';
import { buildJobCard, buildNotStartedCard } from '../messages/job-card.js';
import { permalinkFor } from '../messages/mrkdwn.js';
import { buildBusyNotice } from '../messages/plan.js';

/**
 * After the ack: refuse if the cluster is busy (pointing at the running card), else post the
 * job card and enqueue with the card's channel and ts, then hand the card to the reporter.
 */
export async function startClusterCreate(deps: BotDeps, request: SlackRequest, cluster: string, log: Logger): Promise<void> {
  const running = await runningOperationFor(deps.queue, cluster);
  if (running) {
    log.info({ runningJobId: running }, 'create refused: cluster busy');
    await request.reply(buildBusyNotice(cluster, await describeRunning(deps, running, request.teamDomain)));
    return;
  }
  const requestedAt = new Date().toISOString();
  const card = buildJobCard(initialJobView('', 'cluster.create', cluster), { user: request.user, requestedAt });
  // Slash commands have no thread of their own: the card is the message the job's thread hangs from.
  const posted = await deps.client.chat.postMessage({ channel: request.channel, text: card.text, blocks: card.blocks });
  const cardTs = posted.ts;
  if (!cardTs) throw new Error('chat.postMessage returned no ts for the job card');
  const result = await enqueueOperation(deps.queue, deps.redis, {
    operation: 'cluster.create',
    cluster,
    options: { allowWipe: false },
    origin: { kind: 'slack', user: request.user, channel: request.channel, cardTs },
    requestedAt,
  });
  if (result.status === 'busy') {
    // Someone else got the cluster between our check and our enqueue: say so on the card we posted.
    const running = await describeRunning(deps, result.jobId, request.teamDomain);
    const notStarted = buildNotStartedCard(cluster, request.user, running.link);
    await deps.client.chat.update({ channel: request.channel, ts: cardTs, text: notStarted.text, blocks: notStarted.blocks });
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

/** Where the operation holding a cluster can be followed: its card, or who started it from the CLI. */
export async function describeRunning(deps: BotDeps, jobId: string, teamDomain: string | undefined): Promise<{ jobId: string; link?: string; by?: string }> {
  const card = await deps.store.getCard(jobId);
  if (card) return { jobId, link: card.permalink ?? permalinkFor(teamDomain, card.channel, card.ts) };
  const job = await deps.queue.getJob(jobId);
  const data = JobData.safeParse(job?.data);
  if (!data.success) return { jobId };
  const { origin } = data.data;
  return origin.kind === 'slack' ? { jobId, link: permalinkFor(teamDomain, origin.channel, origin.cardTs) } : { jobId, by: `${origin.user} from the CLI` };
}
