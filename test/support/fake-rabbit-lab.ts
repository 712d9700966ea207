import { createHash } from 'node:crypto';
import { nodeNameOf, shortHostnameOf } from '../../src/config/load.js';
import type { Host } from '../../src/config/schema.js';
import { fixture } from './fixtures.js';
import type { Reply, Responder } from './recording-shells.js';

/**
 * Scenario objects for the recording shells: a simulated RabbitMQ host per inventory host that
 * answers warren's commands the way a Debian 12 host with RabbitMQ 3.10.8 does (real captured
 * error texts from test/fixtures), and changes state as they run, so a step that forgets an order
 * (a cookie written under a running VM, a join while the app runs) fails here as it would there.
 */

export interface Policy {
  name: string;
  pattern: string;
  definition: Record<string, unknown>;
}

/** How one node starts out; everything is optional and defaults to a freshly installed Debian node. */
export interface NodeSetup {
  /** What `hostname -s` prints; defaults to the inventory's short hostname. */
  hostname?: string;
  /** PID 1's name: `systemd`, or anything else (the lab's `host-init.sh`). */
  init?: string;
  /** Installed Debian version of rabbitmq-server; `null` when not installed. */
  packageVersion?: string | null;
  /** What `apt-get install rabbitmq-server` would install. */
  candidateVersion?: string;
  /** Until `apt-get update` runs, apt cannot find the package (stale or empty lists). */
  aptListsStale?: boolean;
  erlangPackageVersion?: string;
  /** The Erlang VM and the rabbit app run (default: true when installed). */
  running?: boolean;
  /** Cookie file contents; `null` when there is no cookie yet (installed, never started). */
  cookie?: string | null;
  /** The node names of the cluster this node believes it belongs to (default: only itself). */
  members?: string[];
  /** vhost -> queue names. */
  queues?: Record<string, string[]>;
  policies?: Policy[];
  /** vhost -> default queue type; its keys are the node's vhosts. */
  vhosts?: Record<string, string | undefined>;
  /** 3.x's `list_policies` printed the definition as a JSON string; default: an object. */
  policyDefinitionAsString?: boolean;
  /** Peers (short hostnames) this node's resolver cannot find. */
  unresolved?: string[];
  /** NODENAME set in /etc/rabbitmq/rabbitmq-env.conf (e.g. a leftover rabbit@localhost); default none. */
  envNodeName?: string;
  /** Readable names of the quorum queues that would lose quorum if this node stopped. */
  quorumCritical?: string[];
}

export interface NodeState {
  host: Host;
  nodeName: string;
  hostname: string;
  init: string;
  packageVersion: string | null;
  candidateVersion: string;
  aptListsStale: boolean;
  erlangPackageVersion: string;
  vm: boolean;
  app: boolean;
  cookie: string | null;
  /** The cookie the running VM read at start (null when the VM is down). */
  vmCookie: string | null;
  members: string[];
  queues: Record<string, string[]>;
  policies: Policy[];
  vhosts: Record<string, string | undefined>;
  policyDefinitionAsString: boolean;
  unresolved: string[];
  envNodeName: string | undefined;
  /** Times warren stopped this node's VM with signals because the CLI could not reach it. */
  stoppedWithoutCli: number;
  /** Full starts of the service (the restarts a create costs). */
  starts: number;
  /** Cookies switched in the running VM (rabbitmqctl eval), without a restart. */
  liveSwitches: number;
  quorumCritical: string[];
  /** `rabbitmqctl reset`s and offline wipes this node went through. */
  resets: number;
}

export const DEBIAN_12_RABBITMQ = '3.10.8-1.1+deb12u1';
const DEBIAN_12_ERLANG = '1:25.2.3+dfsg-1';

/** A Debian-style cookie: 20 upper-case letters, different per host, stable across runs. */
export function cookieFor(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  return Array.from(digest.subarray(0, 20), (b) => String.fromCharCode(65 + (b % 26))).join('');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Splits a POSIX shell command into words: enough of sh's quoting for what `quote()` produces. */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${command}`);
      word += command.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '\\') {
      word += command[i + 1] ?? '';
      i++;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

const ok = (stdout = ''): Reply => ({ code: 0, stdout });

/**
 * rabbitmqctl verbs that refuse to run while the rabbit app is stopped (checked in the 3.10.8 CLI;
 * cluster_status and list_vhosts measured on the lab: exit 64). ping, start_app, stop_app,
 * join_cluster, eval and shutdown run with the app stopped.
 */
const APP_REQUIRED = new Set([
  'cluster_status',
  'list_vhosts',
  'list_queues',
  'list_policies',
  'set_policy',
  'update_vhost_metadata',
]);
/** The CLI's message for that refusal (format_validation_error(:rabbit_app_is_stopped) in rabbitmq_cli). */
const APP_STOPPED =
  "Error: this command requires the 'rabbit' app to be running on the " +
  "target node. Start it with 'rabbitmqctl start_app'.\n";
/** What `service rabbitmq-server start` says (exit 1) when the VM runs without its app; the text is not captured. */
const APP_STOPPED_SERVICE = 'Starting RabbitMQ: failed (the node is running, its rabbit app is not)\n';

/** The shell guard warren puts before a CLI call that only makes sense with a running VM. */
const NO_VM_GUARD = /^if command -v pgrep >\/dev\/null && ! pgrep -x beam\.smp >\/dev\/null; then exit 69; fi; (.*)$/s;

/**
 * warren's start: start_app when a VM runs and answers ping (its app stopped), else the service.
 * Group 1 is the ping, 2 the command for a live VM, 3 the service start.
 */
const AS_RABBITMQ = 'runuser -u rabbitmq -- sh -c ';
const RUN_AS_RABBITMQ = 'runuser -u rabbitmq -- ';

/** warren's stop of a VM that refuses the CLI: signals to the rabbitmq account's beam.smp. */
const STOP_VM_PREFIX =
  'if pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1; then echo "stopping the Erlang VM without the CLI';
const STOP_VM_END =
  'grep -q \'^name rabbit \'; do i=$((i + 1)); if [ "$i" -ge 20 ]; then break; fi; sleep 0.5; done; fi';

const START_GUARD =
  /^if pgrep -x beam\.smp >\/dev\/null 2>&1 && (rabbitmqctl -q ping <\/dev\/null) >\/dev\/null 2>&1; then (.*?); else (.*?); fi$/s;

/**
 * A quorum queue: its replicas, and the member its cluster knows it by (`home`), so it is listed
 * on the nodes of that cluster only (a node reset away stops seeing it, though it stays a member).
 */
export interface QuorumQueue {
  vhost: string;
  name: string;
  members: string[];
  home: string;
}

/** A set of simulated RabbitMQ hosts that together answer like a lab. */
export class FakeRabbitLab {
  readonly nodes = new Map<string, NodeState>();
  /**
   * Quorum queues, as measured on 4.0.5 (3.8+ behave alike here): a reset member stays a replica
   * until `rabbitmq-queues shrink`; a join gets none until `grow`; a forget removes the node's.
   */
  readonly quorumQueues: QuorumQueue[] = [];

  constructor(hosts: readonly Host[], setups: Record<string, NodeSetup> = {}) {
    for (const host of hosts) {
      const setup = setups[host.name] ?? {};
      const installed = setup.packageVersion === undefined ? DEBIAN_12_RABBITMQ : setup.packageVersion;
      const running = setup.running ?? installed !== null;
      const cookie = setup.cookie === undefined ? cookieFor(host.name) : setup.cookie;
      this.nodes.set(host.name, {
        host,
        nodeName: nodeNameOf(host),
        hostname: setup.hostname ?? shortHostnameOf(host),
        init: setup.init ?? 'host-init.sh',
        packageVersion: installed,
        candidateVersion: setup.candidateVersion ?? installed ?? DEBIAN_12_RABBITMQ,
        aptListsStale: setup.aptListsStale ?? false,
        erlangPackageVersion: setup.erlangPackageVersion ?? DEBIAN_12_ERLANG,
        vm: running,
        app: running,
        cookie,
        vmCookie: running ? cookie : null,
        members: setup.members ?? [nodeNameOf(host)],
        queues: setup.queues ?? {},
        policies: setup.policies ?? [],
        vhosts: setup.vhosts ?? { '/': undefined },
        policyDefinitionAsString: setup.policyDefinitionAsString ?? false,
        unresolved: setup.unresolved ?? [],
        envNodeName: setup.envNodeName,
        stoppedWithoutCli: 0,
        starts: 0,
        liveSwitches: 0,
        quorumCritical: setup.quorumCritical ?? [],
        resets: 0,
      });
    }
  }

  /** A formed cluster: every node a running member with the first node's cookie and policies. */
  static formed(hosts: readonly Host[], setup: NodeSetup = {}): FakeRabbitLab {
    const members = hosts.map(nodeNameOf);
    const cookie = cookieFor(hosts[0].name);
    return new FakeRabbitLab(hosts, Object.fromEntries(hosts.map((h) => [h.name, { members, cookie, ...setup }])));
  }

  node(hostName: string): NodeState {
    const node = this.nodes.get(hostName);
    if (!node) throw new Error(`fake lab: no host ${hostName}`);
    return node;
  }

  private byNodeName(nodeName: string): NodeState | undefined {
    return [...this.nodes.values()].find((n) => n.nodeName === nodeName);
  }

  /** The responder to give RecordingShells. */
  readonly respond: Responder = (hostName, command, stdin) => this.answer(this.node(hostName), command, stdin);

  private answer(node: NodeState, command: string, stdin: string | undefined): Reply {
    const guarded = NO_VM_GUARD.exec(command);
    // The guard exits 69 before the CLI starts when no Erlang VM runs.
    if (guarded) return node.vm ? this.answer(node, guarded[1], stdin) : { code: 69 };
    const start = START_GUARD.exec(command);
    if (start) {
      // pgrep finds beam.smp only while the VM runs; the ping's output goes to /dev/null, only its exit counts.
      const live = node.vm && this.answer(node, start[1], undefined).code === 0;
      return this.answer(node, live ? start[2] : start[3], stdin);
    }
    // File operations in /var/lib/rabbitmq run as the rabbitmq account: the fake answers the script itself.
    if (command.startsWith(AS_RABBITMQ)) {
      const [script, ...rest] = shellWords(command.slice(AS_RABBITMQ.length));
      if (script !== undefined && rest.length === 0) return this.answer(node, script, stdin);
    }
    // A RabbitMQ CLI given names read from a node runs as the rabbitmq account (AS_RABBITMQ in
    // src/rabbit/commands.ts): it answers as it would for root.
    if (command.startsWith(RUN_AS_RABBITMQ) && !command.startsWith(AS_RABBITMQ))
      return this.answer(node, command.slice(RUN_AS_RABBITMQ.length), stdin);
    if (command.startsWith(STOP_VM_PREFIX)) {
      // Stops the VM whatever its cookie (signals, not the CLI), then runs what follows `&&`, if anything.
      const end = command.indexOf(STOP_VM_END) + STOP_VM_END.length;
      if (node.vm) {
        node.vm = false;
        node.app = false;
        node.vmCookie = null;
        node.stoppedWithoutCli++;
      }
      const rest = command.slice(end);
      return rest.startsWith(' && ') ? this.answer(node, rest.slice(4), stdin) : ok();
    }
    if (command.startsWith('echo hostname=')) return this.probe(node, command);
    if (command.startsWith('dpkg-query -W'))
      return ok(node.packageVersion ? `install ok installed|${node.packageVersion}` : '');
    if (/apt-get .* update/.test(command)) {
      node.aptListsStale = false;
      return ok('Reading package lists...\n');
    }
    if (/apt-get .* install /.test(command)) return this.aptInstall(node, command);
    // check_running exits 69 both with no VM and with the VM up and its app stopped (measured on 3.10.8).
    if (command.startsWith('rabbitmq-diagnostics -q check_running')) {
      // Like every CLI call, refused by a VM whose cookie file was rewritten under it.
      if (node.vm && node.vmCookie !== node.cookie)
        return { code: 69, stderr: fixture('rabbitmq-3.10/join_cluster.cookie-written-under-running-vm.exit69.txt') };
      return node.app ? ok() : { code: 69, stderr: fixture('rabbitmq-3.10/cluster_status.on-stopped-node.exit69.txt') };
    }
    if (command === 'systemctl start rabbitmq-server') {
      if (node.init !== 'systemd')
        return { code: 1, stderr: fixture('debian-12/systemctl.no-systemd-as-pid1.exit1.txt') };
      // systemd sees an active unit whenever the VM runs: a no-op that leaves a stopped app stopped.
      if (node.vm) return ok();
      return this.startService(node);
    }
    if (command === 'service rabbitmq-server start') {
      // The init script refuses a VM that runs without its app: exit 1 (measured on 3.10.8).
      if (node.vm && !node.app) return { code: 1, stderr: APP_STOPPED_SERVICE };
      return this.startService(node);
    }
    // await_startup exits 69 while the app is stopped (measured on 3.10.8), so the loop runs to its deadline.
    if (command.startsWith('end=$(('))
      return node.app ? ok() : { code: 75, stderr: 'rabbit did not start within 150 s\n' };
    if (command.startsWith('sha256sum /var/lib/rabbitmq/.erlang.cookie | cut')) {
      // A pipeline's status is cut's: a missing file still exits 0, with nothing on stdout.
      if (node.cookie === null)
        return { code: 0, stderr: 'sha256sum: /var/lib/rabbitmq/.erlang.cookie: No such file or directory\n' };
      return ok(`${sha256(node.cookie)}\n`);
    }
    if (
      command.startsWith('if [ -L /var/lib/rabbitmq/.erlang.cookie ]') &&
      command.endsWith('; base64 -w0 /var/lib/rabbitmq/.erlang.cookie')
    ) {
      if (node.cookie === null)
        return { code: 1, stderr: 'base64: /var/lib/rabbitmq/.erlang.cookie: No such file or directory\n' };
      return ok(Buffer.from(node.cookie, 'utf8').toString('base64'));
    }
    if (command.includes('base64 -d > ')) {
      // Both cookie writes check the decoded bytes against the hash in the command first.
      const expected = /%s {2}%s\\n\S* (\S+) "\$tmp"/.exec(command)?.[1];
      if (stdin === undefined || expected !== sha256(Buffer.from(stdin, 'base64').toString('utf8'))) {
        return {
          code: 75,
          stderr: "the cookie received does not match the seed's (input cut short?): nothing was changed\n",
        };
      }
    }
    if (command.startsWith("trap '' HUP; tmp=$(runuser -u rabbitmq -- sh -c 'umask 077 && tmp=$(mktemp "))
      return this.switchCookieLive(node, stdin);
    if (command.startsWith('umask 077 && tmp=$(mktemp /var/lib/rabbitmq/.erlang.cookie.XXXXXXXXXX) && ')) {
      if (stdin === undefined) return { code: 1, stderr: 'base64: invalid input\n' };
      node.cookie = Buffer.from(stdin, 'base64').toString('utf8');
      return ok();
    }
    if (command.startsWith('rabbitmq-diagnostics -q check_if_node_is_quorum_critical'))
      return this.quorumCritical(node);
    if (command.startsWith('rabbitmq-diagnostics -q metadata_store_status')) return this.metadataStoreStatus(node);
    if (command.startsWith('if [ -d /var/lib/rabbitmq/mnesia/')) return ok(this.isBlank(node) ? 'blank\n' : 'data\n');
    if (command.startsWith('if pgrep -x beam.smp >/dev/null 2>&1; then echo "an Erlang VM runs')) {
      if (node.vm) return { code: 70, stderr: 'an Erlang VM runs: refusing to delete its data under it\n' };
      this.wipe(node);
      return ok();
    }
    if (command.startsWith('rabbitmqctl')) return this.rabbitmqctl(node, command);
    if (command.startsWith('rabbitmq-queues')) return this.rabbitmqQueues(node, command);
    throw new Error(`fake lab: ${node.host.name} has no answer for: ${command}`);
  }

  /** The VM takes the new cookie through `rabbitmqctl eval` (which needs the VM up), then the file is replaced. */
  private switchCookieLive(node: NodeState, stdin: string | undefined): Reply {
    if (stdin === undefined) return { code: 1, stderr: 'base64: invalid input\n' };
    if (!node.vm) return { code: 69, stderr: fixture('rabbitmq-3.10/cluster_status.on-stopped-node.exit69.txt') };
    if (node.vmCookie !== node.cookie)
      return { code: 69, stderr: fixture('rabbitmq-3.10/join_cluster.cookie-written-under-running-vm.exit69.txt') };
    const cookie = Buffer.from(stdin, 'base64').toString('utf8');
    node.vmCookie = cookie;
    node.cookie = cookie;
    node.liveSwitches++;
    return ok();
  }

  private probe(node: NodeState, command: string): Reply {
    const peers = /for peer in (.*?); do/.exec(command)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
    const lines = [
      `hostname=${node.hostname}`,
      `init=${node.init}`,
      `rabbitmq=${node.packageVersion ? `install ok installed|${node.packageVersion}` : ''}`,
      `erlang=${node.packageVersion ? node.erlangPackageVersion : ''}`,
      `nodename=${node.envNodeName ?? ''}`,
      ...peers.map((peer) => (node.unresolved.includes(peer) ? `unresolved=${peer}` : `resolves=${peer}`)),
    ];
    return ok(`${lines.join('\n')}\n`);
  }

  private aptInstall(node: NodeState, command: string): Reply {
    const spec = shellWords(command).find((w) => w.startsWith('rabbitmq-server')) ?? 'rabbitmq-server';
    const [, version] = spec.split('=');
    if (node.aptListsStale) {
      return {
        code: 100,
        stdout: 'Reading package lists...\n',
        stderr: fixture('debian-12/apt-get-install.unable-to-locate.exit100.stderr.txt').replace(
          'rabbitmq-server-nonexistent',
          'rabbitmq-server',
        ),
      };
    }
    if (version !== undefined && version !== node.candidateVersion) {
      return {
        code: 100,
        stderr: fixture('debian-12/apt-get-install.version-not-found.exit100.stderr.txt').replace('9.9.9-1', version),
      };
    }
    // Debian's policy-rc.d in the lab: installing does not start the service; the VM creates the cookie at first start.
    node.packageVersion = version ?? node.candidateVersion;
    return ok(`Setting up rabbitmq-server (${node.packageVersion}) ...\n`);
  }

  private startService(node: NodeState): Reply {
    if (!node.packageVersion)
      return { code: 1, stderr: 'Failed to start rabbitmq-server.service: Unit rabbitmq-server.service not found.\n' };
    if (node.vm) return ok();
    node.cookie ??= cookieFor(`${node.host.name}-first-start`);
    node.vm = true;
    node.app = true;
    node.vmCookie = node.cookie;
    node.starts++;
    return ok();
  }

  /** RabbitMQ 4.3 keeps its metadata in Khepri (khepri_db enabled and required, measured on 4.3.6). */
  private isKhepri(node: NodeState): boolean {
    const [major = 0, minor = 0] = (node.packageVersion ?? '0')
      .replace(/^\d+:/, '')
      .split('.')
      .map((p) => Number.parseInt(p, 10) || 0);
    return major > 4 || (major === 4 && minor >= 3);
  }

  /**
   * Khepri's Raft view as 4.3.6 prints it: one row per member whose app runs, the first running
   * member the leader, everything committed (the fake models a cluster with its majority).
   */
  private metadataStoreStatus(node: NodeState): Reply {
    if (!node.app) return { code: 64, stderr: APP_STOPPED };
    const running = node.members.filter((m) => this.byNodeName(m)?.app);
    const row = (name: string, i: number) => ({
      'Node Name': name,
      'Raft State': i === 0 ? 'leader' : 'follower',
      Membership: 'voter',
      'Last Log Index': 100,
      'Last Written': 100,
      'Last Applied': 100,
      'Commit Index': 100,
      'Snapshot Index': -1,
      Term: 1,
      'Machine Version': 3,
    });
    return ok(JSON.stringify(running.map(row)));
  }

  private clusterStatus(node: NodeState): Reply {
    const is4 = Number.parseInt((node.packageVersion ?? '3').replace(/^\d+:/, ''), 10) >= 4;
    const running = node.members.filter((m) => this.byNodeName(m)?.app).reverse();
    const version = (node.packageVersion ?? '').replace(/^\d+:/, '').replace(/-[^-]*$/, '');
    const status: Record<string, unknown> = {
      alarms: [],
      cluster_name: node.members[0],
      disk_nodes: [...node.members].sort(),
      maintenance_status: Object.fromEntries(running.map((m) => [m, 'not under maintenance'])),
      partitions: {},
      ...(is4 ? { cluster_tags: [] } : { ram_nodes: [] }),
      ...(is4 ? { feature_flags: [{ name: 'khepri_db', state: this.isKhepri(node) ? 'enabled' : 'disabled' }] } : {}),
      running_nodes: running,
      versions: Object.fromEntries(
        running.map((m) => [m, { erlang_version: '25.2.3', rabbitmq_name: 'RabbitMQ', rabbitmq_version: version }]),
      ),
    };
    return ok(JSON.stringify(status));
  }

  private rabbitmqctl(node: NodeState, command: string): Reply {
    const unreachable: Reply = { code: 69, stderr: fixture('rabbitmq-3.10/cluster_status.on-stopped-node.exit69.txt') };
    // Every rabbitmqctl verb, shutdown included, exits 69 when the VM is down.
    if (!node.vm) return unreachable;
    if (node.vmCookie !== node.cookie) {
      // A cookie written under a running VM locks the CLI out (seen on 3.10.8).
      return { code: 69, stderr: fixture('rabbitmq-3.10/join_cluster.cookie-written-under-running-vm.exit69.txt') };
    }
    const words = shellWords(command).filter((w) => w !== '-q' && w !== '</dev/null');
    const [, verb, ...args] = words;
    // In 3.10.8 these commands validate that the rabbit app runs (their beams call
    // Validators.rabbit_is_running); a validation failure exits 64, like join_cluster's opposite check.
    if (!node.app && APP_REQUIRED.has(verb ?? '')) return { code: 64, stderr: APP_STOPPED };
    switch (verb) {
      case 'shutdown':
        node.vm = false;
        node.app = false;
        node.vmCookie = null;
        return ok();
      case 'cluster_status':
        return this.clusterStatus(node);
      case 'stop_app':
        node.app = false;
        return ok();
      case 'ping':
        // Answers whenever the VM runs and the cookie matches, app stopped or not (exit 0 on 3.10.8).
        return ok();
      case 'start_app':
        // Idempotent: exit 0 on a running app too.
        node.app = true;
        return ok();
      case 'reset':
        return this.reset(node);
      case 'forget_cluster_node':
        return this.forget(node, args[0] ?? '');
      case 'join_cluster':
        return this.join(node, args[0] ?? '');
      case 'list_vhosts':
        return ok(
          JSON.stringify(
            Object.entries(node.vhosts).map(([name, type]) =>
              args.includes('default_queue_type') ? { name, default_queue_type: type ?? 'classic' } : { name },
            ),
          ),
        );
      case 'list_queues': {
        const vhost = args[args.indexOf('--vhost') + 1] ?? '/';
        const withMembers = args.includes('members');
        const classic = (node.queues[vhost] ?? []).map((name) =>
          withMembers ? { name, type: 'classic', members: [node.nodeName] } : { name },
        );
        const quorum = this.quorumSeenBy(node)
          .filter((q) => q.vhost === vhost)
          .map((q) => (withMembers ? { name: q.name, type: 'quorum', members: q.members } : { name: q.name }));
        return ok(JSON.stringify([...classic, ...quorum]));
      }
      case 'list_policies':
        return ok(
          JSON.stringify(
            node.policies.map((p) => ({
              vhost: '/',
              name: p.name,
              pattern: p.pattern,
              'apply-to': 'all',
              definition: node.policyDefinitionAsString ? JSON.stringify(p.definition) : p.definition,
              priority: 0,
            })),
          ),
        );
      case 'set_policy': {
        const [name, pattern, definition] = args;
        if (name === undefined || pattern === undefined || definition === undefined)
          return { code: 64, stderr: 'Error: not enough arguments.\n' };
        const policy: Policy = { name, pattern, definition: JSON.parse(definition) as Record<string, unknown> };
        for (const member of this.membersOf(node))
          member.policies = [...member.policies.filter((p) => p.name !== name), policy];
        return ok();
      }
      case 'update_vhost_metadata': {
        const [vhost] = args;
        const type = args[args.indexOf('--default-queue-type') + 1];
        for (const member of this.membersOf(node)) member.vhosts = { ...member.vhosts, [vhost ?? '/']: type };
        return ok();
      }
      default:
        throw new Error(`fake lab: ${node.host.name} has no answer for: ${command}`);
    }
  }

  /** The quorum queues a node's cluster holds: those whose home is a member that agrees it is one. */
  private quorumSeenBy(node: NodeState): QuorumQueue[] {
    return this.quorumQueues.filter(
      (q) => node.members.includes(q.home) && (this.byNodeName(q.home)?.members.includes(node.nodeName) ?? false),
    );
  }

  /** shrink, delete_member and grow as 4.0.5 answers them (asked on a running member). */
  private rabbitmqQueues(node: NodeState, command: string): Reply {
    if (!node.app) return { code: 69, stderr: fixture('rabbitmq-3.10/cluster_status.on-stopped-node.exit69.txt') };
    const words = shellWords(command).filter((w) => w !== '-q' && w !== '</dev/null');
    const [, verb, ...args] = words;
    const seen = this.quorumSeenBy(node);
    switch (verb) {
      case 'shrink': {
        const gone = args[0] ?? '';
        for (const q of seen) q.members = q.members.filter((m) => m !== gone);
        return ok();
      }
      case 'delete_member': {
        const vhost = args[args.indexOf('--vhost') + 1] ?? '/';
        const [queue, gone] = args.filter((a, i) => a !== '--vhost' && args[i - 1] !== '--vhost');
        for (const q of seen)
          if (q.vhost === vhost && q.name === queue) q.members = q.members.filter((m) => m !== gone);
        return ok();
      }
      case 'grow': {
        const joiner = args[0] ?? '';
        if (!node.members.includes(joiner) || !this.byNodeName(joiner)?.app)
          return { code: 64, stderr: `Error: node ${joiner} is not a member of the cluster\n` };
        for (const q of seen) if (!q.members.includes(joiner)) q.members = [...q.members, joiner];
        return ok();
      }
      default:
        throw new Error(`fake lab: ${node.host.name} has no answer for: ${command}`);
    }
  }

  private membersOf(node: NodeState): NodeState[] {
    return node.members.map((m) => this.byNodeName(m)).filter((n): n is NodeState => n !== undefined);
  }

  /** Blank: a cluster of itself, no queues, no policies, only vhost `/` (what reset leaves). */
  private isBlank(node: NodeState): boolean {
    return (
      node.members.length === 1 &&
      node.members[0] === node.nodeName &&
      Object.values(node.queues).every((q) => q.length === 0) &&
      node.policies.length === 0 &&
      Object.keys(node.vhosts).join() === '/'
    );
  }

  private wipe(node: NodeState): void {
    node.members = [node.nodeName];
    node.queues = {};
    node.policies = [];
    node.vhosts = { '/': undefined };
    node.resets++;
  }

  /**
   * Measured on 3.10.8: exit 64 while the app runs; on a clustered node, the node leaves (its
   * running peers drop it) — exit 69 no_running_cluster_nodes when no other member's app runs.
   */
  private reset(node: NodeState): Reply {
    if (node.app)
      return {
        code: 64,
        stderr:
          "Error: this command requires the 'rabbit' app to be stopped on the " +
          "target node. Stop it with 'rabbitmqctl stop_app'.\n",
      };
    const peers = this.membersOf(node).filter((m) => m !== node && m.members.includes(node.nodeName));
    if (peers.length > 0 && !peers.some((p) => p.app)) {
      return {
        code: 69,
        stderr: "Error:\n{:no_running_cluster_nodes, 'You cannot leave a cluster if no online nodes are present.'}\n",
      };
    }
    for (const peer of peers) peer.members = peer.members.filter((m) => m !== node.nodeName);
    // The node stays a replica of its cluster's quorum queues (measured on 4.0.5); the cluster keeps them, or they go
    // with the last node.
    for (const q of [...this.quorumQueues]) {
      if (q.home !== node.nodeName) continue;
      const heir = peers[0];
      if (heir) q.home = heir.nodeName;
      else this.quorumQueues.splice(this.quorumQueues.indexOf(q), 1);
    }
    this.wipe(node);
    return ok();
  }

  /** Measured on 3.10.8: exit 0 for a stopped member; 69 while its app runs; 69 not_a_cluster_node once forgotten. */
  private forget(node: NodeState, gone: string): Reply {
    if (!node.members.includes(gone) || gone === node.nodeName)
      return { code: 69, stderr: "Error:\n{:not_a_cluster_node, 'The node selected is not in the cluster.'}\n" };
    const target = this.byNodeName(gone);
    if (target?.app)
      return {
        code: 69,
        stderr:
          `Error:\nRabbitMQ on node ${gone} must be stopped with 'rabbitmqctl -n ` +
          `${gone} stop_app' before it can be removed\n`,
      };
    const seen = this.quorumSeenBy(node);
    for (const member of this.membersOf(node))
      if (member !== target) member.members = member.members.filter((m) => m !== gone);
    // A forget takes the node's replicas with it (measured on 4.3.6), and its cluster keeps the queues.
    for (const q of seen) {
      q.members = q.members.filter((m) => m !== gone);
      if (q.home === gone) q.home = node.nodeName;
    }
    return ok();
  }

  /**
   * Measured on 3.10.8: exit 0 `{"result":"ok"}`; exit 69 with the queues as JSON on stderr; 64 with the app stopped.
   */
  private quorumCritical(node: NodeState): Reply {
    if (!node.app) return { code: 64, stderr: APP_STOPPED };
    if (node.quorumCritical.length === 0) return ok('{"result":"ok"}\n');
    return {
      code: 69,
      stderr: `${JSON.stringify({
        message: `Node ${node.nodeName} reported local queues with minimum online quorum`,
        queues: node.quorumCritical.map((name) => ({
          name,
          readable_name: `queue '${name}' in vhost '/'`,
          type: 'quorum',
          virtual_host: '/',
        })),
        result: 'error',
      })}\n`,
    };
  }

  private join(node: NodeState, seedName: string): Reply {
    if (node.app)
      return { code: 64, stderr: `${fixture('rabbitmq-3.10/join_cluster.app-running.exit64.firstline.txt')}\n` };
    const seed = this.byNodeName(seedName);
    const seedShort = seedName.split('@')[1] ?? '';
    if (!seed || node.unresolved.includes(seedShort))
      return { code: 69, stderr: fixture('rabbitmq-3.10/join_cluster.unresolvable-seed.exit69.txt') };
    if (!seed.app || seed.vmCookie !== node.vmCookie)
      return { code: 69, stderr: fixture('rabbitmq-3.10/join_cluster.cookie-mismatch.exit69.txt') };
    if (seed.members.includes(node.nodeName) && node.members.includes(seedName)) {
      return ok(fixture('rabbitmq-3.10/join_cluster.already-member.exit0.txt'));
    }
    // join_cluster resets the node: its queues and its old membership go, it takes the seed cluster's state.
    for (const old of this.membersOf(node))
      if (old !== node) old.members = old.members.filter((m) => m !== node.nodeName);
    const members = [...seed.members, node.nodeName];
    for (const member of [...this.membersOf(seed), node]) member.members = members;
    node.queues = {};
    node.policies = [...seed.policies];
    node.vhosts = { ...seed.vhosts };
    return ok(`Clustering node ${node.nodeName} with ${seedName}\n`);
  }
}
