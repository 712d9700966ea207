import type { BotDeps, SlackRequest } from '../deps.js';
import { buildAuditList } from '../messages/audit-list.js';

/** How many entries `/rabbit audit` shows; the CLI prints more. */
export const AUDIT_LIST_LIMIT = 20;

/** After the ack: the latest audit entries, of one cluster or all, to the requester; newest last. */
export async function replyWithAudit(deps: BotDeps, request: SlackRequest, cluster: string | undefined): Promise<void> {
  const entries = await deps.audit.latest({ limit: AUDIT_LIST_LIMIT, ...(cluster ? { cluster } : {}) });
  await request.reply(buildAuditList(entries, cluster));
}
