import type { UpgradeCheckCommand } from '../../commands/schema.js';
import type { Logger } from '../../log/logger.js';
import { requestUpgradeCheck } from '../../requests/upgrade-check.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { buildProblem } from '../messages/refusal.js';
import { buildUpgradeCard } from '../messages/upgrade-card.js';

/** After the ack: read every node of the cluster and post the upgrade-readiness card in the channel. */
export async function postUpgradeCheck(
  deps: BotDeps,
  request: SlackRequest,
  command: UpgradeCheckCommand,
  log: Logger,
): Promise<void> {
  const result = await requestUpgradeCheck(
    {
      readUpgradeReadiness: (cluster, target) =>
        deps.readUpgradeReadiness(deps.config, cluster, { logger: log, ...(target === undefined ? {} : { target }) }),
    },
    { cluster: command.cluster, ...(command.to === undefined ? {} : { to: command.to }) },
  );
  if (result.kind === 'unreadable') {
    log.warn({ code: result.error.code, err: result.error.message }, 'upgrade check could not read the cluster');
    await request.reply(
      buildProblem(
        `Could not check ${command.cluster} for an upgrade: ${result.error.message}`,
        'Check that warren can reach the hosts over SSH (`warren upgrade-check` shows the same).',
      ),
    );
    return;
  }
  log.info(
    {
      ready: result.report.verdict.ready,
      path: result.report.verdict.path,
      blockers: result.report.verdict.blockers.map((b) => b.kind),
    },
    'upgrade check read',
  );
  const card = buildUpgradeCard(result.report);
  await deps.client.chat.postMessage({
    channel: request.channel,
    text: card.text,
    blocks: card.blocks,
    unfurl_links: false,
  });
}
