import type { AuditEntry } from '../audit/schema.js';
import { buildAuditEntry } from '../audit/build-entry.js';
import type { AuditSubject } from '../audit/build-entry.js';
import type { BotDeps } from './deps.js';

/** The actor the audit names for what nobody clicked: an approval that ran out of time. */
export const WARREN_ACTOR = 'warren';

/** What happened in chat, as an audit entry stamped with the bot's clock. */
export function slackAuditEntry(
  deps: Pick<BotDeps, 'now'>,
  subject: AuditSubject,
  event: AuditEntry['event'],
  actor: string,
  detail?: string,
): AuditEntry {
  return buildAuditEntry(
    subject,
    event,
    { actor, via: 'slack' },
    { atMs: deps.now(), ...(detail === undefined ? {} : { detail }) },
  );
}

/** Appends what happened in chat to the audit log. */
export async function auditFromSlack(
  deps: Pick<BotDeps, 'audit' | 'now'>,
  subject: AuditSubject,
  event: AuditEntry['event'],
  actor: string,
  detail?: string,
): Promise<void> {
  await deps.audit.append(slackAuditEntry(deps, subject, event, actor, detail));
}
