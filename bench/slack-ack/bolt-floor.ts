/**
 * The floor of the fixed stack: a bare Bolt app (its own HTTPReceiver, no store, no logger output)
 * whose one listener acks `/rabbit` with an empty body, as cheaply as an ack through Bolt can be.
 * Measured beside the bot and the bare node:http baseline (run.ts --baseline), it splits the bot's
 * cost into Bolt's own pipeline and what warren adds on top. Same protocol as bot.ts (READY /
 * STATS on SIGUSR2 / SIGTERM). FLOOR_RECEIVER=warren puts warren's receiver (createSlackHttpReceiver:
 * its byte-exact signature check and body limits, without the delivery memory) in front instead of
 * Bolt's default one: the floor of the receiver warren runs, with no listener work.
 */
import { App, LogLevel } from '@slack/bolt';
import type { Server } from 'node:http';
import { createLogger } from '../../src/log/logger.js';
import { createSlackHttpReceiver } from '../../src/slack/runtime/http-receiver.js';
import { buildHelp } from '../../src/slack/messages/usage.js';
import { SIGNING_SECRET } from '../../tools/slack-emulator/harness.js';
import { reportToBench } from './server-protocol.js';

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};
const receiver =
  process.env.FLOOR_RECEIVER === 'warren'
    ? { receiver: createSlackHttpReceiver({ signingSecret: SIGNING_SECRET, logger: createLogger({ level: 'error' }) }) }
    : {};
const app = new App({
  signingSecret: SIGNING_SECRET,
  ...receiver,
  token: process.env.SLACK_BOT_TOKEN,
  clientOptions: { slackApiUrl: process.env.SLACK_API_URL },
  logger: silent,
  convoStore: false,
  // The token is verified once at start (auth.test on the emulator), as the bot does: without that
  // check Bolt calls auth.test on every request.
});
// FLOOR_ACK=help: ack with the bot's own `/rabbit help` answer (2.9 kB of JSON) instead of nothing, to
// tell the cost of the answer's size from the cost of the bot's checks.
const body = process.env.FLOOR_ACK === 'help' ? { response_type: 'ephemeral' as const, ...buildHelp() } : undefined;
app.command('/rabbit', async ({ ack }) => {
  await ack(body);
});
const server = (await app.start(0)) as Server;

reportToBench(server);
process.on('SIGTERM', () => void app.stop().then(() => process.exit(0)));
