import type { WatchCommand } from '../../commands/schema.js';
import type { Logger } from '../../log/logger.js';
import { listWatches, requestUnwatch, requestWatch } from '../../requests/watch.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { escapeText, plainText, section } from '../messages/mrkdwn.js';
import { buildProblem } from '../messages/refusal.js';
import { buildWatchesList } from '../messages/watch.js';

/** `/rabbit watch <cluster> [<channel>]`: alerts go to the channel named, else to this one. */
export async function startWatch(deps: BotDeps, request: SlackRequest, command: WatchCommand, log: Logger) {
  const result = await requestWatch(deps.watch, {
    cluster: command.cluster,
    channel: command.channel ?? request.channel,
    requestedBy: request.user,
  });
  if (result.kind === 'refused') {
    log.info({ reason: result.reason }, 'watch refused');
    return request.reply(buildProblem(`Not watching ${command.cluster}: ${result.reason}`, result.hint));
  }
  const { record, previous } = result;
  log.info({ cluster: record.cluster, channel: record.channel, moved: previous?.channel }, 'watch started');
  const moved = previous && previous.channel !== record.channel ? ` (alerts moved from <#${previous.channel}>)` : '';
  const again = previous && !moved ? ' (it already was: nothing changed but who asked)' : '';
  const line =
    `:eyes: Watching *${escapeText(record.cluster)}* every ${record.periodSeconds} s; ` +
    `changes go to <#${record.channel}>${moved}${again}.`;
  return request.reply({ text: plainText(`Watching ${record.cluster}`), blocks: [section(line)] });
}

/** `/rabbit unwatch <cluster>`. */
export async function stopWatch(deps: BotDeps, request: SlackRequest, cluster: string, log: Logger) {
  const { removed } = await requestUnwatch(deps.watch, cluster);
  log.info({ cluster, removed }, 'watch stopped');
  const line = removed
    ? `Stopped watching *${escapeText(cluster)}*; its open alerts get no recovery reply.`
    : `*${escapeText(cluster)}* was not watched.`;
  return request.reply({ text: plainText(line.replace(/\*/g, '')), blocks: [section(line)] });
}

/** `/rabbit watches`. */
export async function replyWithWatches(deps: BotDeps, request: SlackRequest) {
  const { watches, skipped } = await listWatches(deps.watch);
  return request.reply(buildWatchesList(watches, skipped));
}
