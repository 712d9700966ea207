/**
 * The demo through Slack's path: the real bot (HTTP receiver) against the Slack emulator, driven
 * by signed slash commands as Slack would send them; the thread is printed as a person reads it.
 * A worker must be running on the same Redis and queue prefix (scripts/demo.sh starts one).
 * After the create: a destructive operation as a team runs it — one person asks for a node reset,
 * the bot checks the safety gates and posts an approval card, a second person approves it — then
 * the audit log, and a second create that brings the reset node back into the cluster.
 *
 *   node --import tsx scripts/demo-slack.ts [cluster]      (default cluster: lab)
 *
 * Env: WARREN_CONFIG (the lab's warren.yaml), WARREN_QUEUE_PREFIX, REDIS_URL. Exit 0 when the
 * create completed and the status card says healthy.
 */
import { loadConfig, resolveConfigPath } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { openOperationsQueue } from '../src/queue/queue.js';
import { connectRedis, redisSettingsFromEnv } from '../src/queue/redis.js';
import { startBot } from '../src/slack/runtime/bot.js';
import { SlackDriver } from '../tools/slack-emulator/driver.js';
import { SlackEmulator } from '../tools/slack-emulator/emulator.js';
import { renderMessage, renderThread } from '../tools/slack-emulator/render.js';
import { checkSafetyGates } from '../src/gates/check.js';
import { approvalCards, pressApprovalButton } from '../tools/slack-emulator/approvals.js';

const CHANNEL = 'C0DEMO001';
const USER = 'U0DEMO001';
const APPROVER = 'U0DEMO002';
const SECRET = 'demo-signing-secret-not-a-real-one';
const cluster = process.argv[2] ?? 'lab';
const say = (line: string) => process.stdout.write(`${line}\n`);

const loaded = await loadConfig(resolveConfigPath(undefined));
// The lab's config has no Slack section: the demo's channel and operator are added here.
const config = {
  ...loaded,
  slack: {
    ...loaded.slack,
    channels: [CHANNEL],
    users: { [USER]: ['operator' as const], [APPROVER]: ['approver' as const] },
  },
};
const redis = connectRedis(redisSettingsFromEnv());
const queue = openOperationsQueue(redis, process.env.WARREN_QUEUE_PREFIX ?? 'warren');
const emulator = await SlackEmulator.start();
const bot = await startBot({
  config,
  redis,
  queue,
  env: { SLACK_BOT_TOKEN: emulator.botToken, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: emulator.apiUrl, PORT: '0' },
  logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  checkSafetyGates,
});
const driver = new SlackDriver({
  emulator,
  signingSecret: SECRET,
  botUrl: `http://127.0.0.1:${bot.port}/slack/events`,
});

/** Sends a create and follows its card to the end; true when it completed. */
async function createAndFollow(): Promise<boolean> {
  say(`> /rabbit cluster create ${cluster}`);
  const before = new Set(emulator.channelMessages(CHANNEL).map((m) => m.ts));
  const created = await driver.slashCommand({ text: `cluster create ${cluster}`, user: USER, channel: CHANNEL });
  if (created.status !== 200) throw new Error(`the bot answered ${created.status}`);
  const card = await emulator.waitFor(
    () =>
      emulator
        .channelMessages(CHANNEL)
        .find((m) => !before.has(m.ts) && m.text.startsWith(`cluster.create ${cluster}`)),
    'the job card',
  );
  return followCard(card.ts);
}

/** Prints a card's state as it changes until its job ends, then its thread; true when it completed. */
async function followCard(ts: string): Promise<boolean> {
  let shown = '';
  await emulator.waitFor(
    () => {
      const now = emulator.message(CHANNEL, ts)!.text;
      if (now !== shown) say(`  card: ${(shown = now)}`);
      return /: (completed|failed)/.test(now);
    },
    'the job to end',
    600_000,
  );
  await bot.reporter.idle();
  say('');
  say(renderThread(emulator, CHANNEL, ts));
  return emulator.message(CHANNEL, ts)!.text.includes(': completed');
}

let ok = false;
try {
  say(`== Slack (emulated) → warren bot on :${bot.port} → worker → lab`);
  const completed = await createAndFollow();

  say('');
  say(`> /rabbit status ${cluster}`);
  const before = emulator.channelMessages(CHANNEL).length;
  await driver.slashCommand({ text: `status ${cluster}`, user: USER, channel: CHANNEL });
  const status = await emulator.waitFor(() => emulator.channelMessages(CHANNEL)[before], 'the status card', 180_000);
  say(renderThread(emulator, CHANNEL, status.ts));

  const [resetNode] = config.clusters.find((c) => c.name === cluster)?.nodes.slice(-1) ?? [];
  let reset = true;
  let recreated = true;
  if (resetNode !== undefined) {
    say('');
    say(`> /rabbit node reset ${cluster} ${resetNode}        (asked by <@${USER}>)`);
    await driver.slashCommand({ text: `node reset ${cluster} ${resetNode}`, user: USER, channel: CHANNEL });
    const approval = await emulator.waitFor(() => approvalCards(emulator, CHANNEL)[0], 'the approval card', 180_000);
    say(renderThread(emulator, CHANNEL, approval.ts));
    say(`  [Approve] pressed by <@${APPROVER}>, and confirmed`);
    await pressApprovalButton(driver, approval, 'approve', APPROVER);
    reset = await followCard(approval.ts);

    say('');
    say(`> /rabbit audit ${cluster}`);
    const audit = await driver.slashCommand({ text: `audit ${cluster}`, user: USER, channel: CHANNEL });
    const listing = await emulator.waitFor(
      () => emulator.responsesTo(audit.responseUrl)[0],
      'the audit listing',
      30_000,
    );
    const { text = '', blocks } = listing.body as { text?: string; blocks?: unknown[] };
    say(renderMessage({ text, ...(blocks ? { blocks } : {}) }));

    say('');
    say(`== ${resetNode} is a blank single node now; a create brings it back into ${cluster}`);
    recreated = await createAndFollow();
  }
  ok = completed && status.text.startsWith(`${cluster} is healthy`) && reset && recreated;
} finally {
  await bot.close();
  await queue.close();
  await emulator.close();
  redis.disconnect();
}
process.exitCode = ok ? 0 : 1;
