import type { Logger } from '../../log/logger.js';
import type { ClusterHealth } from '../../rabbit/cluster-status.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { buildProblem } from '../messages/refusal.js';
import { buildClusterSummary, buildStatusCard } from '../messages/status-card.js';
import type { ClusterSummaryRow } from '../messages/status-card.js';
import { messageOf } from '../../errors.js';

/**
 * After the ack: read one cluster's health over SSH and post its status card in the channel. A
 * reading held up (a node gone silent holds cluster_status ~60 s) posts what is known early,
 * naming the hosts that do not answer, and that card is updated when the full reading arrives.
 */
export async function postClusterStatus(
  deps: BotDeps,
  request: SlackRequest,
  cluster: string,
  log: Logger,
): Promise<void> {
  let earlyCard: Promise<string | undefined> | undefined;
  const onEarly = (health: ClusterHealth): void => {
    const card = buildStatusCard(health);
    log.info({ silent: health.partial?.silent }, 'status held up: posting what is known');
    earlyCard = deps.client.chat
      .postMessage({ channel: request.channel, text: card.text, blocks: card.blocks, unfurl_links: false })
      .then(
        (posted) => posted.ts,
        (error: unknown) => {
          log.warn({ err: messageOf(error) }, 'early status card could not be posted');
          return undefined;
        },
      );
  };
  let card;
  try {
    card = buildStatusCard(await deps.readClusterStatus(deps.config, cluster, { logger: log, onEarly }));
  } catch (error) {
    log.warn({ err: messageOf(error) }, 'status read failed');
    await request.reply(
      buildProblem(
        `Could not read the status of ${cluster}: ${messageOf(error)}`,
        'Check that warren can reach the hosts over SSH (`warren status` shows the same).',
      ),
    );
    return;
  }
  const ts = await earlyCard;
  if (ts) await deps.client.chat.update({ channel: request.channel, ts, text: card.text, blocks: card.blocks });
  else
    await deps.client.chat.postMessage({
      channel: request.channel,
      text: card.text,
      blocks: card.blocks,
      unfurl_links: false,
    });
}

/** After the ack: one line per configured cluster, read side by side. */
export async function postStatusSummary(deps: BotDeps, request: SlackRequest, log: Logger): Promise<void> {
  const rows = await Promise.all(
    deps.config.clusters.map(async ({ name }): Promise<ClusterSummaryRow> => {
      try {
        return { cluster: name, health: await deps.readClusterStatus(deps.config, name, { logger: log }) };
      } catch (error) {
        return { cluster: name, error: messageOf(error) };
      }
    }),
  );
  const summary = buildClusterSummary(rows);
  await deps.client.chat.postMessage({
    channel: request.channel,
    text: summary.text,
    blocks: summary.blocks,
    unfurl_links: false,
  });
}
