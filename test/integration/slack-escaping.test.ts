/**
 * Host output through the real bot, over HTTP, to the Slack Web API emulator: a status read from
 * hostile cluster_status output (parsed by the real parser), a gate refusal whose reasons name
 * hostile nodes, and a job whose events carry hostile details, errors and stderr. Every recorded
 * Web API call and response_url post has no unescaped `<`, `>`, `&` and no control character in
 * its `text` or in any block, while the hostile text itself is shown (escaped).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WarrenError } from '../../src/errors.js';
import { publishEvent } from '../../src/queue/events.js';
import type { ProgressEvent } from '../../src/operations/progress.js';
import { evaluateHealth, parseClusterStatus } from '../../src/rabbit/cluster-status.js';
import { unescapedIn } from '../slack/escaping.js';
import { fakeGates } from '../../tools/slack-emulator/gates.js';
import { CHANNEL, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';

const HOSTILE = '<!channel> <https://evil.example|click> & \u001b[31mred\u001b[0m\u0007\r\u009b2J \ud800 <@U0EVIL99>';

/** cluster_status as a hostile node could print it: every free-text field carries markup and escapes. */
const HOSTILE_STATUS = JSON.stringify({
  disk_nodes: ['rabbit@mq1', 'rabbit@mq2', 'rabbit@<!channel>'],
  running_nodes: ['rabbit@mq1', 'rabbit@<!channel>'],
  alarms: [{ node: 'rabbit@mq1', resource: HOSTILE }, HOSTILE],
  partitions: { 'rabbit@mq1': ['rabbit@<https://evil.example|click>'] },
  maintenance_status: { 'rabbit@mq1': HOSTILE },
  versions: { 'rabbit@mq1': { rabbitmq_version: '3.10.8 & <!here>', erlang_version: '\u001b]0;owned\u0007 25' } },
});

let h: SlackHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Every string Slack would render from what the bot sent: Web API calls (text, blocks) and response_url posts. */
function everythingSent(harness: SlackHarness, responseUrls: string[], acks: unknown[]): unknown[] {
  return [
    ...harness.emulator.calls.map((call) => ({ method: call.method, text: call.args.text, blocks: call.args.blocks })),
    ...responseUrls.flatMap((url) => harness.emulator.responsesTo(url).map((post) => post.body)),
    ...acks,
  ];
}

describe('host output through the bot to Slack', () => {
  it(
    'is escaped in every text and block of every message: status card, ' + 'summary, gate refusal, job card and thread',
    async () => {
      h = await startSlackHarness({
        mode: 'http',
        readClusterStatus: (_config, cluster) => {
          if (cluster === 'spare')
            return Promise.reject(
              new WarrenError('status.unparseable', `cluster_status on mq4 printed ${HOSTILE}`, { host: 'mq4' }),
            );
          const expected = new Map([
            ['rabbit@mq1', 'mq1'],
            ['rabbit@mq2', 'mq2'],
            ['rabbit@mq3', 'mq3'],
          ]);
          return Promise.resolve(evaluateHealth(cluster, parseClusterStatus(HOSTILE_STATUS, 'mq1'), expected, 'mq1'));
        },
        checkSafetyGates: fakeGates({
          refuse: [
            {
              id: 'node.quorum_critical',
              ok: false,
              detail: `quorum queues ${HOSTILE} would lose their majority`,
              remedy: `move ${HOSTILE} first`,
            },
          ],
        }),
      });
      const harness = h;
      const responseUrls: string[] = [];
      const acks: unknown[] = [];
      const ask = async (text: string) => {
        const reply = await harness.driver.slashCommand({ text });
        expect(reply.status).toBe(200);
        responseUrls.push(reply.responseUrl);
        acks.push(reply.json);
        return reply;
      };

      // The status card (posted in the channel) and the summary of every cluster.
      await ask('status rmq-lab');
      const card = await harness.emulator.waitFor(
        () => harness.emulator.channelMessages(CHANNEL)[0],
        'the status card',
      );
      expect(card.text).toContain('&lt;!channel&gt;');
      const summary = await ask('status');
      await harness.emulator.waitFor(() => harness.emulator.channelMessages(CHANNEL)[1], 'the summary');
      // A gate refusal: ephemeral, through the response_url.
      const refused = await ask('node reset rmq-lab mq3');
      await harness.emulator.waitFor(() => harness.emulator.responsesTo(refused.responseUrl)[0], 'the gate refusal');

      // A job: its card, then events with hostile host output, ending failed.
      await ask('cluster create rmq-lab');
      const jobCard = await harness.emulator.waitFor(
        () => harness.emulator.channelMessages(CHANNEL)[2],
        'the job card',
      );
      let jobId: string | undefined;
      for (let i = 0; i < 500 && !jobId; i += 1) {
        jobId = (await harness.queue.getJobs(['waiting']))[0]?.id;
        if (!jobId) await new Promise((r) => setTimeout(r, 10));
      }
      expect(jobId).toBeDefined();
      const base = {
        jobId: jobId!,
        operation: 'cluster.create' as const,
        cluster: 'rmq-lab',
        at: new Date().toISOString(),
      };
      const error = {
        code: 'command.failed' as const,
        message: `join failed: ${HOSTILE}`,
        retryable: false,
        host: 'mq2',
        step: 'rabbit:join',
        evidence: {
          host: 'mq2',
          command: 'rabbitmqctl join_cluster rabbit@mq1',
          exitCode: 69,
          stderr: `Error: ${HOSTILE}\n\u001b[1mmore\u001b[0m`,
        },
        hint: `check ${HOSTILE}`,
      };
      const events: ProgressEvent[] = [
        {
          ...base,
          type: 'job',
          state: 'started',
          attempt: 1,
          steps: [
            { id: 'rabbit:preflight', title: 'Preflight' },
            { id: 'rabbit:join', title: 'Join' },
          ],
        },
        {
          ...base,
          type: 'step',
          step: 'rabbit:preflight',
          state: 'done',
          host: 'mq1',
          durationMs: 10,
          detail: `rabbit@mq1, ${HOSTILE}`,
        },
        { ...base, type: 'step', step: 'rabbit:preflight', state: 'done', durationMs: 12, detail: HOSTILE },
        {
          ...base,
          type: 'step',
          step: 'rabbit:join',
          state: 'failed',
          host: 'mq2',
          durationMs: 10,
          detail: HOSTILE,
          error,
        },
        { ...base, type: 'step', step: 'rabbit:join', state: 'failed', durationMs: 12, error },
        { ...base, type: 'job', state: 'failed', attempt: 1, error },
      ];
      for (const event of events) await publishEvent(harness.redis, harness.prefix, event);
      await harness.emulator.waitFor(
        () => harness.emulator.message(CHANNEL, jobCard.ts)!.text.startsWith('cluster.create rmq-lab: failed'),
        'the card to say failed',
      );
      await harness.emulator.waitFor(
        () =>
          harness.emulator.threadReplies(CHANNEL, jobCard.ts).some((r) => r.text.includes('failed: command.failed')),
        'the failure reply',
      );
      await harness.bot.reporter.idle();

      const sent = everythingSent(harness, responseUrls, acks);
      expect(unescapedIn(sent)).toEqual([]);
      // The hostile text reached Slack, escaped and stripped, in card texts, blocks and replies alike.
      const all = JSON.stringify(sent);
      expect(all).toContain('&lt;!channel&gt;');
      expect(all).toContain('&lt;https://evil.example|click&gt;');
      expect(all).toContain('&amp;');
      expect(all).toContain('&lt;@U0EVIL99&gt;');
      expect(all).not.toContain('\\u001b');
      expect(
        harness.emulator.callsOf('chat.postMessage').length + harness.emulator.callsOf('chat.update').length,
      ).toBeGreaterThanOrEqual(5);
      expect(
        harness.emulator.responsesTo(summary.responseUrl).length + harness.emulator.channelMessages(CHANNEL).length,
      ).toBeGreaterThan(0);
    },
  );
});
