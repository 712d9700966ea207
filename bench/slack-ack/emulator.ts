/**
 * The Slack emulator in a process of its own for the ack benchmark: Slack is remote, so what it
 * does with the bot's follow-up calls should not run on the bot's event loop.
 * Prints `READY {"apiUrl":…,"botToken":…,"responseUrl":…}`; stops on SIGTERM.
 */
import { SlackEmulator } from '../../tools/slack-emulator/emulator.js';

const emulator = await SlackEmulator.start();
process.stdout.write(
  `READY ${JSON.stringify({
    apiUrl: emulator.apiUrl,
    botToken: emulator.botToken,
    responseUrl: emulator.newResponseUrl(),
  })}\n`,
);
process.on('SIGTERM', () => {
  void emulator.close().then(() => process.exit(0));
});
