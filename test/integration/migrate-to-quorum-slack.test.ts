/**
 * The quorum migration from Slack on one RabbitMQ 4.3.6 host (lab `mqf`): signed slash commands and button presses
 * reach the real bot, the real gates read the node, the approval card shows the plan (and for the delete, the queues
 * with their messages), another approver approves, a real worker runs the job, and the node itself is read after.
 * Between the delete's card and its approval a shown queue gets a message: it is kept, and the thread says so.
 * Needs root. Run: flock /tmp/warren-labslot-1.lock npx vitest run test/integration/migrate-to-quorum-slack.test.ts
 */
import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { checkSafetyGates } from '../../src/gates/check.js';
import { createLogger } from '../../src/log/logger.js';
import { connectRedis } from '../../src/queue/redis.js';
import { startWorker } from '../../src/queue/worker.js';
import type { RunningWorker } from '../../src/queue/worker.js';
import { readClusterStatus } from '../../src/status/read-cluster-status.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { pressApprovalButton, waitForApprovalCard } from '../../tools/slack-emulator/approvals.js';
import { APPROVER, APPROVER_2, CHANNEL, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';
import { renderThread } from '../../tools/slack-emulator/render.js';
import { operations } from '../../jobs/index.js';

const NAME = 'mqf';
const USER = 'mqtest';
const PASS = 'mqtest-pass';
/** A queue name that would be a mention if it reached Slack unescaped. */
const LOUD = '<!channel> q';

describe('migrate-to-quorum and delete-classic-queues from Slack on 4.3.6 (lab mqf)', () => {
  let lab: Lab;
  let h: SlackHarness;
  let worker: RunningWorker;
  let connection: ChannelModel;
  let ch: ConfirmChannel;
  const workerRedis = connectRedis();

  const classic = async (): Promise<[string, number][]> => {
    const r = await lab.exec(1, 'rabbitmqctl -q list_queues --formatter json name type messages </dev/null');
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { name: string; type: string; messages: number }[])
      .filter((q) => q.type === 'classic')
      .map((q): [string, number] => [q.name, q.messages])
      .sort((a, b) => a[0].localeCompare(b[0]));
  };
  const fill = async (queue: string, messages: number): Promise<void> => {
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    for (let i = 0; i < messages; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
  };
  /** Requests `text` as APPROVER, checks the card, approves it as APPROVER_2, waits for the job's end on the card. */
  const approved = async (text: string, index: number, onCard: (posted: string) => Promise<void>): Promise<string> => {
    const reply = await h.driver.slashCommand({ text, user: APPROVER });
    expect(reply.status).toBe(200);
    const card = await waitForApprovalCard(h.emulator, CHANNEL, index);
    await onCard(JSON.stringify(card.message.history[0]?.blocks ?? card.message.blocks));
    expect((await pressApprovalButton(h.driver, card, 'approve', APPROVER_2)).status).toBe(200);
    const label = text.replace(/^cluster /, 'cluster.');
    await h.emulator.waitFor(
      () =>
        new RegExp(`${label.replace(/\./g, '\\.')}: (completed|failed)`).test(
          h.emulator.message(CHANNEL, card.ts)?.text ?? '',
        ),
      `${text} to end on the card`,
      120_000,
    );
    await h.bot.reporter.idle();
    expect(h.emulator.message(CHANNEL, card.ts)?.text).toMatch(/: completed/);
    return renderThread(h.emulator, CHANNEL, card.ts);
  };

  beforeAll(async () => {
    lab = await labUp(1, { name: NAME, releases: ['forky'] });
    const labConfig = await loadConfig(lab.configPath);
    const config: WarrenConfig = {
      ...labConfig,
      slack: {
        ...labConfig.slack,
        channels: [CHANNEL],
        users: { [APPROVER]: ['approver'], [APPROVER_2]: ['approver'] },
      },
    };
    h = await startSlackHarness({ config, readClusterStatus, checkSafetyGates });
    worker = await startWorker({
      operations,
      config,
      connection: workerRedis,
      prefix: h.prefix,
      logger: createLogger({ level: 'silent' }),
    });
    const setup = await lab.exec(
      1,
      `rabbitmqctl -q add_user ${USER} ${PASS} </dev/null && ` +
        `rabbitmqctl -q set_permissions -p / ${USER} '.*' '.*' '.*' </dev/null`,
    );
    expect(setup.code, setup.stderr).toBe(0);
    connection = await amqp.connect(`amqp://${USER}:${PASS}@${lab.hosts[0].address}:5672/`);
    ch = await connection.createConfirmChannel();
    await fill('q.keep', 3);
    await fill('q.grow', 1);
    await fill(LOUD, 2);
  }, 240_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await worker?.close();
    workerRedis.disconnect();
    await h?.close();
    await lab?.down();
  }, 120_000);

  it('migrate: the card shows the changes and the oslo.messaging settings; approved, quorum the default', async () => {
    const thread = await approved(`cluster migrate-to-quorum ${NAME}`, 0, (posted) => {
      expect(posted).toContain('default queue type classic -&gt; quorum');
      expect(posted).toContain('rabbit_quorum_queue = true');
      expect(posted).toContain('rabbit_stream_fanout = true');
      expect(posted).toContain('3 classic queue(s) stay (not deleted)');
      expect(posted).not.toContain('<!channel>');
      return Promise.resolve();
    });
    expect(thread).toMatch(/classic queue\(s\) remain/);
    const vhosts = await lab.exec(1, 'rabbitmqctl -q list_vhosts --formatter json name default_queue_type </dev/null');
    expect(JSON.parse(vhosts.stdout)).toEqual([{ name: '/', default_queue_type: 'quorum' }]);
    expect(await classic()).toEqual([
      [LOUD, 2],
      ['q.grow', 1],
      ['q.keep', 3],
    ]);
  }, 180_000);

  it('delete: the card names each queue and its messages; one that grew before the approval is kept', async () => {
    const thread = await approved(`cluster delete-classic-queues ${NAME}`, 1, async (posted) => {
      expect(posted).toContain('deleted with its messages: / \\"q.keep\\" (3 message(s))');
      expect(posted).toContain('deleted with its messages: / \\"q.grow\\" (1 message(s))');
      expect(posted).toContain('&lt;!channel&gt; q');
      expect(posted).not.toContain('<!channel>');
      // nothing is deleted before the approval; then q.grow gets a message
      expect((await classic()).length).toBe(3);
      await fill('q.grow', 1);
    });
    expect(thread).toMatch(/got messages since it was shown \(1 -(>|&gt;) 2\)/);
    expect(await classic()).toEqual([['q.grow', 2]]);
  }, 180_000);
});
