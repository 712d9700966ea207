import type { Redis } from 'ioredis';
import { durableWrite } from '../queue/redis.js';
import { AuditEntry } from './schema.js';
import type { StoredAuditEntry } from './schema.js';

/**
 * Entries kept: enough for months of chat-ops on a busy team. Trimmed exactly, so an operator can
 * count on the newest AUDIT_MAX_ENTRIES being there.
 */
export const AUDIT_MAX_ENTRIES = 100_000;

/** How far back a filtered read looks before giving up on finding `limit` matches. */
const SCAN_WINDOW = 5000;

export const auditKey = (prefix: string): string => `${prefix}:audit`;

/**
 * The audit log: one Redis stream per prefix, appended in order, never expired (it lives as long as
 * Redis keeps its data: AOF, see the README). Stream ids order entries across processes.
 */
export class AuditLog {
  private readonly key: string;
  private readonly maxEntries: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    /** Entries kept (AUDIT_MAX_ENTRIES); a test that appends more than that at full speed keeps more. */
    options: { maxEntries?: number } = {},
  ) {
    this.key = auditKey(prefix);
    this.maxEntries = String(options.maxEntries ?? AUDIT_MAX_ENTRIES);
  }

  /** Appends one entry (validated first: a bad entry is a bug, and must not reach the log). */
  async append(entry: AuditEntry): Promise<string> {
    const checked = AuditEntry.parse(entry);
    const id = await durableWrite(this.redis, 'audit entry', () =>
      this.redis.xadd(this.key, 'MAXLEN', this.maxEntries, '*', 'entry', JSON.stringify(checked)),
    );
    if (id === null) throw new Error('XADD returned no id');
    return id;
  }

  /** The newest entries, oldest first, optionally of one cluster. Unreadable entries are skipped. */
  async latest(options: { cluster?: string; limit?: number } = {}): Promise<StoredAuditEntry[]> {
    const limit = options.limit ?? 20;
    const raw = await this.redis.xrevrange(
      this.key,
      '+',
      '-',
      'COUNT',
      options.cluster === undefined ? limit : SCAN_WINDOW,
    );
    const entries: StoredAuditEntry[] = [];
    for (const [id, fields] of raw) {
      const entry = parseEntry(fields);
      if (!entry) continue;
      if (options.cluster !== undefined && entry.cluster !== options.cluster) continue;
      entries.push({ id, entry });
      if (entries.length >= limit) break;
    }
    return entries.reverse();
  }
}

function parseEntry(fields: string[]): AuditEntry | undefined {
  const index = fields.indexOf('entry');
  if (index === -1 || index + 1 >= fields.length) return undefined;
  try {
    const parsed = AuditEntry.safeParse(JSON.parse(fields[index + 1]));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
