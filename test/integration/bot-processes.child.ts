/**
 * `warren bot` as the CLI would run it with WARREN_BOT_PROCESSES, for bot-processes.test.ts: the
 * primary and each bot process run this file (node:cluster re-runs the entry script). Each bot
 * process starts the real bot (Bolt on warren's receiver, real Redis under TEST_PREFIX, the Slack
 * emulator at SLACK_API_URL); logs are JSON on stderr; the primary prints `READY {"port","pids"}`.
 */
import { createLogger } from '../../src/log/logger.js';
import { runBotProcesses, startBotProcess } from '../../src/slack/bot-processes.js';
import { botProcessesFromEnv } from '../../src/slack/env.js';
import { fakeGates } from '../../tools/slack-emulator/gates.js';
import { FAST_REPORTER, FAST_RETRY, healthyCluster, testConfig } from '../../tools/slack-emulator/harness.js';

const logger = createLogger({ level: 'info' });
const prefix = process.env.TEST_PREFIX ?? 'test-bot-processes';

runBotProcesses({
  processes: botProcessesFromEnv(process.env),
  logger,
  restartDelayMs: 100,
  stopTimeoutMs: 10_000,
  start: () =>
    startBotProcess({
      config: testConfig(),
      prefix,
      env: process.env,
      logger,
      checkSafetyGates: fakeGates(),
      readClusterStatus: (_config, cluster) => Promise.resolve(healthyCluster(cluster)),
      retryConfig: FAST_RETRY,
      reporter: FAST_REPORTER,
    }),
  onReady: (info) => process.stdout.write(`READY ${JSON.stringify(info)}\n`),
}).then(
  () => process.exit(0),
  (error: unknown) => {
    logger.error({ err: (error as Error).message }, 'bot did not start');
    process.exit(1);
  },
);
