/**
 * The demo through Slack's path: the real bot (HTTP receiver) against the Slack emulator, driven
 * by signed slash commands as Slack would send them; the thread is printed as a person reads it.
 * A worker must be running on the same Redis and queue prefix (scripts/demo.sh starts one).
 *
 *   node --import tsx test/slack/demo.ts [cluster]      (default cluster: lab)
 *
 * Env: WARREN_CONFIG (the lab's warren.yaml), WARREN_QUEUE_PREFIX, REDIS_URL. Exit 0 when the
 * create completed and the status card says healthy.
 */
import { loadConfig, resolveConfigPath } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import { connectRedis, redisUrlFromEnv } from '../../src/queue/redis.js';
import { startBot } from '../../src/slack/bot.js';
import { SlackDriver } from './driver.js';
import { SlackEmulator } from './emulator.js';
import { renderThread } from './render.js';
import { refuseAllGates } from './gates.js';

const CHANNEL = 'C0DEMO001';
const USER = 'U0DEMO001';
const SECRET = 'demo-signing-secret-not-a-real-one';
const cluster = process.argv[2] ?? 'lab';
const say = (line: string) => process.stdout.write(`${line}\n`);

const loaded = await loadConfig(resolveConfigPath(undefined));
// The lab's config has no Slack section: the demo's channel and operator are added here.
const config = { ...loaded, slack: { ...loaded.slack, channels: [CHANNEL], users: { [USER]: ['operator' as const] } } };
const redis = connectRedis(redisUrlFromEnv());
const queue = openOperationsQueue(redis, process.env.WARREN_QUEUE_PREFIX ?? 'warren');
const emulator = await SlackEmulator.start();
const bot = await startBot({
  config,
  redis,
  queue,
  env: { SLACK_BOT_TOKEN: emulator.botToken, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: emulator.apiUrl, PORT: '0' },
  logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  // The demo creates a cluster only; it asks for no destructive operation.
  checkSafetyGates: refuseAllGates,
});
const driver = new SlackDriver({ emulator, signingSecret: SECRET, botUrl: `http://127.0.0.1:${bot.port}/slack/events` });

let ok = false;
try {
  say(`== Slack (emulated) → warren bot on :${bot.port} → worker → lab`);
  say(`> /rabbit cluster create ${cluster}`);
  const created = await driver.slashCommand({ text: `cluster create ${cluster}`, user: USER, channel: CHANNEL });
  if (created.status !== 200) throw new Error(`the bot answered ${created.status}`);
  const card = await emulator.waitFor(() => emulator.channelMessages(CHANNEL).find((m) => m.text.startsWith(`cluster.create ${cluster}`)), 'the job card');
  let shown = '';
  await emulator.waitFor(
    () => {
      const now = emulator.message(CHANNEL, card.ts)!.text;
      if (now !== shown) say(`  card: ${(shown = now)}`);
      return /: (completed|failed)/.test(now);
    },
    'the job to end',
    600_000,
  );
  await bot.reporter.idle();
  say('');
  say(renderThread(emulator, CHANNEL, card.ts));
  const completed = emulator.message(CHANNEL, card.ts)!.text.includes(': completed');

  say('');
  say(`> /rabbit status ${cluster}`);
  const before = emulator.channelMessages(CHANNEL).length;
  await driver.slashCommand({ text: `status ${cluster}`, user: USER, channel: CHANNEL });
  const status = await emulator.waitFor(() => emulator.channelMessages(CHANNEL)[before], 'the status card', 180_000);
  say(renderThread(emulator, CHANNEL, status.ts));
  ok = completed && status.text.startsWith(`${cluster} is healthy`);
} finally {
  await bot.close();
  await queue.close();
  await emulator.close();
  redis.disconnect();
}
process.exitCode = ok ? 0 : 1;
