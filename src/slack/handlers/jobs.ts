import type { JobType } from 'bullmq';
import { JobData } from '../../operations/schema.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { buildJobsList } from '../messages/jobs-list.js';
import type { JobListEntry } from '../messages/jobs-list.js';
import { permalinkFor } from '../messages/mrkdwn.js';

const RUNNING: JobType[] = ['active', 'waiting', 'prioritized', 'delayed'];
const FINISHED: JobType[] = ['completed', 'failed'];
const LIMIT = 15;

/** After the ack: running operations first, then the most recent finished ones, to the requester. */
export async function replyWithJobs(deps: BotDeps, request: SlackRequest): Promise<void> {
  const entries: (JobListEntry & { timestamp: number; running: boolean })[] = [];
  for (const state of [...RUNNING, ...FINISHED]) {
    const jobs = await deps.queue.getJobs([state], 0, LIMIT - 1);
    for (const job of jobs) {
      if (!job.id) continue;
      // Redis data is untyped: a job we cannot read is listed by id rather than breaking the list.
      const data = JobData.safeParse(job.data);
      const origin = data.success ? data.data.origin : undefined;
      const card = await deps.store.getCard(job.id);
      const link =
        card?.permalink ??
        (origin?.kind === 'slack' ? permalinkFor(request.teamDomain, origin.channel, origin.cardTs) : undefined);
      entries.push({
        jobId: job.id,
        operation: data.success ? data.data.operation : job.name,
        cluster: data.success ? data.data.cluster : '(unreadable job)',
        state,
        requestedBy: origin ? (origin.kind === 'slack' ? origin.user : `${origin.user} (CLI)`) : 'unknown',
        ...(data.success ? { requestedAt: data.data.requestedAt } : {}),
        ...(link ? { cardLink: link } : {}),
        ...(job.failedReason ? { failedReason: job.failedReason } : {}),
        timestamp: job.timestamp,
        running: RUNNING.includes(state),
      });
    }
  }
  entries.sort((a, b) => Number(b.running) - Number(a.running) || b.timestamp - a.timestamp);
  await request.reply(buildJobsList(entries.slice(0, LIMIT)));
}
