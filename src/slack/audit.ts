import type { AuditEntry } from '../audit/schema.js';
import type { BotDeps } from './deps.js';

/** The actor the audit names for what nobody clicked: an approval that ran out of time. */
export const WARREN_ACTOR = 'warren';

/** Appends what happened in chat to the audit log, stamped with the bot's clock. */
export async function auditFromSlack(deps: Pick<BotDeps, 'audit' | 'now'>, entry: Omit<AuditEntry, 'at' | 'via'>): Promise<void> {
  await deps.audit.append({ ...entry, at: new Date(deps.now()).toISOString(), via: 'slack' });
}
