import { z } from 'zod';

/** Names that reach a remote shell or a node name: letters, digits, dot, dash, underscore; no leading dash. */
export const SafeName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
    'letters, digits, ".", "-" or "_", starting with a letter or digit, at most 63 characters',
  );

/** A short hostname as RabbitMQ uses it in `rabbit@<short hostname>`. */
export const ShortHostname = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/, 'a short hostname (letters, digits and "-", no dots)');

/** An environment variable name (secrets are named here, never written here). */
const EnvVarName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name such as WARREN_SSH_PASSPHRASE');

/** A pinned SSH host key: the `type base64` pair of a .pub / known_hosts line, or an OpenSSH `SHA256:` fingerprint. */
export const PinnedHostKey = z
  .string()
  .trim()
  .refine(
    (v) =>
      /^SHA256:[A-Za-z0-9+/]{43}=?$/.test(v) ||
      /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}(\s.*)?$/.test(v),
    'an OpenSSH public key ("ssh-ed25519 AAAA…") or fingerprint ' +
      '("SHA256:…"), as printed by ssh-keyscan or ssh-keygen -lf',
  );

export const ServiceManagerSetting = z.enum(['auto', 'systemd', 'sysv']);
export type ServiceManagerSetting = z.infer<typeof ServiceManagerSetting>;

export const Host = z
  .object({
    name: SafeName.describe('inventory name used by clusters'),
    address: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9.:-]+$/, 'an IP address or DNS name'),
    port: z.number().int().min(1).max(65535).default(22),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/, 'a Unix user name')
      .default('root'),
    privateKeyPath: z.string().min(1),
    /** Name of the env variable that holds the key's passphrase, if the key has one. */
    privateKeyPassphraseEnv: EnvVarName.optional(),
    hostKey: PinnedHostKey,
    /** The node's short hostname when it differs from the inventory name. */
    hostname: ShortHostname.optional(),
    serviceManager: ServiceManagerSetting.default('auto'),
  })
  .strict();
export type Host = z.infer<typeof Host>;

export const ReplicationMode = z.enum(['auto', 'ha-all', 'quorum', 'none']);
export type ReplicationMode = z.infer<typeof ReplicationMode>;

/** How a cluster's rolling restart is allowed from Slack (see Cluster.approval). */
export const ApprovalSetting = z.enum(['required', 'operator']);
export type ApprovalSetting = z.infer<typeof ApprovalSetting>;

export const DEFAULT_HA_POLICY_PATTERN = '^(?!amq\\.).*';

export const Cluster = z
  .object({
    name: SafeName,
    nodes: z.array(SafeName).min(1),
    seed: SafeName,
    replication: ReplicationMode.default('auto'),
    haPolicyPattern: z.string().min(1).max(512).default(DEFAULT_HA_POLICY_PATTERN),
    /**
     * A node that is about to join (standalone, no queues: the join wipes it anyway) takes the
     * seed's cookie without a restart. false: always stop, write, start.
     */
    liveCookieSwitch: z.boolean().default(true),
    packageVersion: z
      .string()
      .regex(/^[A-Za-z0-9.:+~-]+$/, 'a Debian package version such as 3.10.8-1.1+deb12u1')
      .optional(),
    /**
     * Who lets a rolling restart run from Slack: `required` (the default when absent) = a second
     * person approves, as for the destructive operations; `operator` = an operator runs it directly.
     */
    approval: ApprovalSetting.optional(),
  })
  .strict();
export type Cluster = z.infer<typeof Cluster>;

export const SshSettings = z
  .object({
    connectTimeoutMs: z.number().int().positive().default(10_000),
    commandTimeoutMs: z.number().int().positive().default(180_000),
    /** Most bytes a remote command may print on stdout (and on stderr) before it fails with ssh.output_too_large. */
    maxOutputBytes: z
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024),
  })
  .strict();

/**
 * Who may do what from Slack: viewer (help, status, jobs, audit, dry runs), operator (create, request destructive
 * ops), approver (decide them).
 */
export const SlackRole = z.enum(['viewer', 'operator', 'approver']);
export type SlackRole = z.infer<typeof SlackRole>;

export const SlackSettings = z
  .object({
    /** Channel ids the bot answers in; anywhere else gets an ephemeral refusal. */
    channels: z.array(z.string().regex(/^[CG][A-Z0-9]+$/, 'a Slack channel id such as C0123ABCD')).default([]),
    /** Slack user id -> roles. A user not listed may do nothing. */
    users: z
      .record(z.string().regex(/^[UW][A-Z0-9]+$/, 'a Slack user id such as U0123ABCD'), z.array(SlackRole).min(1))
      .default({}),
    /** May the requester approve their own destructive request? Only for teams of one: off by default. */
    allowSelfApproval: z.boolean().default(false),
    /** How long an approval card waits for a decision before it expires. */
    approvalTimeoutMinutes: z.number().int().min(1).max(1440).default(15),
  })
  .strict();
export type SlackSettings = z.infer<typeof SlackSettings>;

/** The watch (`/rabbit watch`): how often each watched cluster is read, and what counts as too long. */
export const WatchSettings = z
  .object({
    /** Seconds between two readings of a watched cluster; at least 2 (every reading costs each node a CLI VM). */
    periodSeconds: z.number().int().min(2).max(3600).default(30),
    /** A reading that takes longer returns what is known by then (which hosts answer SSH). */
    readTimeoutSeconds: z.number().int().min(2).max(120).default(20),
    /** A node under maintenance longer than this is alerted on. */
    maintenanceMaxSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(1800),
  })
  .strict();
export type WatchSettings = z.infer<typeof WatchSettings>;

export const WarrenConfig = z
  .object({
    ssh: SshSettings.default({ connectTimeoutMs: 10_000, commandTimeoutMs: 180_000, maxOutputBytes: 4 * 1024 * 1024 }),
    hosts: z.array(Host).min(1),
    clusters: z.array(Cluster).min(1),
    slack: SlackSettings.default({ channels: [], users: {}, allowSelfApproval: false, approvalTimeoutMinutes: 15 }),
    watch: WatchSettings.default({ periodSeconds: 30, readTimeoutSeconds: 20, maintenanceMaxSeconds: 1800 }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const hostNames = new Set<string>();
    config.hosts.forEach((host, i) => {
      if (hostNames.has(host.name))
        ctx.addIssue({ code: 'custom', path: ['hosts', i, 'name'], message: `duplicate host name "${host.name}"` });
      hostNames.add(host.name);
    });
    const clusterNames = new Set<string>();
    config.clusters.forEach((cluster, i) => {
      if (clusterNames.has(cluster.name))
        ctx.addIssue({
          code: 'custom',
          path: ['clusters', i, 'name'],
          message: `duplicate cluster name "${cluster.name}"`,
        });
      clusterNames.add(cluster.name);
      const seen = new Set<string>();
      cluster.nodes.forEach((node, j) => {
        if (!hostNames.has(node))
          ctx.addIssue({
            code: 'custom',
            path: ['clusters', i, 'nodes', j],
            message: `unknown host "${node}": expected one of ${[...hostNames].join(', ')}`,
          });
        if (seen.has(node))
          ctx.addIssue({
            code: 'custom',
            path: ['clusters', i, 'nodes', j],
            message: `host "${node}" is listed twice`,
          });
        seen.add(node);
      });
      if (!cluster.nodes.includes(cluster.seed))
        ctx.addIssue({
          code: 'custom',
          path: ['clusters', i, 'seed'],
          message: `seed "${cluster.seed}" must be one of the cluster's nodes (${cluster.nodes.join(', ')})`,
        });
    });
  });
export type WarrenConfig = z.infer<typeof WarrenConfig>;
