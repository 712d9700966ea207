/**
 * Socket Mode: the bot opens its connection through apps.connections.open on the emulator and
 * receives envelopes over a local WebSocket; the same listeners answer as over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobData } from '../../src/operations/schema.js';
import { CREATE_CONFIRM_ACTION } from '../../src/slack/messages/plan.js';
import { CHANNEL, OPERATOR, OTHER_CHANNEL, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';

let h: SlackHarness;

beforeAll(async () => {
  h = await startSlackHarness({ mode: 'socket' });
});

afterAll(async () => {
  await h.close();
});

describe('Socket Mode', () => {
  it('connects with the app token and no HTTP port', () => {
    expect(h.bot.mode).toBe('socket');
    expect(h.bot.port).toBeUndefined();
    const open = h.emulator.callsOf('apps.connections.open');
    expect(open).toHaveLength(1);
    expect(open[0].token).toBe(h.emulator.appToken);
  });

  it('acks a slash command envelope with the answer in the ack payload', async () => {
    const { ack } = await h.driver.slashCommandViaSocket({ text: 'help' });
    expect(JSON.stringify(ack.payload)).toContain('/rabbit cluster create');
    expect(ack.payload?.response_type).toBe('ephemeral');
  });

  it('refuses and answers usage errors the same way as over HTTP', async () => {
    const refused = await h.driver.slashCommandViaSocket({ text: 'jobs', channel: OTHER_CHANNEL });
    expect(JSON.stringify(refused.ack.payload)).toContain("don't take commands in this channel");
    const usage = await h.driver.slashCommandViaSocket({ text: 'cluster create $(id)' });
    expect(String(usage.ack.payload?.text)).toContain('unexpected character U+0024 ($)');
  });

  it('creates from an envelope: card posted, job queued with the card ts', async () => {
    const { ack } = await h.driver.slashCommandViaSocket({ text: 'cluster create rmq-lab' });
    expect(ack.payload ?? {}).toEqual({});
    const card = await h.emulator.waitFor(
      () => h.emulator.channelMessages(CHANNEL).find((m) => m.text.startsWith('cluster.create rmq-lab')),
      'the card',
    );
    await expect.poll(async () => (await h.queue.getJobs(['waiting'])).length).toBe(1);
    const [job] = await h.queue.getJobs(['waiting']);
    expect(JobData.parse(job.data).origin).toEqual({
      kind: 'slack',
      user: OPERATOR,
      channel: CHANNEL,
      cardTs: card.ts,
    });
  });

  it('takes a button press from an interactive envelope', async () => {
    const { ack, responseUrl } = await h.driver.interactionViaSocket(
      h.driver.blockAction({ actionId: CREATE_CONFIRM_ACTION, value: 'spare' }),
    );
    expect(ack.envelope_id).toBeTruthy();
    await h.emulator.waitFor(
      () => h.emulator.channelMessages(CHANNEL).find((m) => m.text.startsWith('cluster.create spare')),
      'the spare card',
    );
    expect(JSON.stringify(h.emulator.responsesTo(responseUrl))).toContain('follow the job card');
  });
});
