import { z } from 'zod';

/** `rabbitmqctl list_feature_flags --formatter json name state stability`, only what we use. */
export const FeatureFlags = z.array(
  z.object({ name: z.string(), state: z.string(), stability: z.string().optional() }).loose(),
);
export type FeatureFlags = z.infer<typeof FeatureFlags>;

/** Where a node keeps its metadata (users, vhosts, queues, bindings, membership). */
export type MetadataStore = 'mnesia' | 'khepri';

/** Khepri once `khepri_db` is enabled (required on 4.3, opt-in on 4.0, unknown to 3.10); else Mnesia. */
export function metadataStoreOf(flags: FeatureFlags): MetadataStore {
  return flags.some((f) => f.name === 'khepri_db' && f.state === 'enabled') ? 'khepri' : 'mnesia';
}

/**
 * Stable flags not yet enabled (after an upgrade, until `rabbitmqctl enable_all_feature_flags`):
 * the next upgrade refuses to start with them off. Experimental ones (khepri_db on 4.0) are opt-in.
 */
export function flagsNotEnabled(flags: FeatureFlags): string[] {
  return flags
    .filter((f) => f.state !== 'enabled' && f.stability !== 'experimental')
    .map((f) => f.name)
    .sort();
}

/** What a node's metadata store is when it cannot be asked: 4.3 requires Khepri, before 3.13 there is none. */
export function impliedMetadataStore(rabbitmqVersion: string): MetadataStore | undefined {
  const [major = 0, minor = 0] = rabbitmqVersion.split('.').map((p) => Number.parseInt(p, 10) || 0);
  if (major > 4 || (major === 4 && minor >= 3)) return 'khepri';
  if (major < 3 || (major === 3 && minor < 13)) return 'mnesia';
  return undefined;
}

/** "Mnesia" / "Khepri", for people. */
export function metadataStoreName(store: MetadataStore): string {
  return store === 'khepri' ? 'Khepri' : 'Mnesia';
}

/**
 * The flags `feature-flags enable` turns on: stable and disabled, by name. Required flags are
 * always on; experimental ones (khepri_db on 4.0) stay opt-in; `unavailable` ones (a node of a
 * mixed cluster lacks them) cannot be enabled.
 */
export function flagsToEnable(flags: FeatureFlags): string[] {
  return flags
    .filter((f) => f.state === 'disabled' && (f.stability ?? 'stable') === 'stable')
    .map((f) => f.name)
    .sort();
}

/**
 * Whether the CLI takes `enable_feature_flag all`: checked on 3.10.8, 4.0.5 and 4.3.6. Older or
 * unknown versions enable the flags one by one.
 */
export function enablesAllAtOnce(rabbitmqVersion: string | undefined): boolean {
  if (rabbitmqVersion === undefined) return false;
  const [major = 0, minor = 0] = rabbitmqVersion.split('.').map((p) => Number.parseInt(p, 10) || 0);
  return major > 3 || (major === 3 && minor >= 10);
}
