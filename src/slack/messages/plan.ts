import { withoutControls } from '../../untrusted-text.js';
import type { Block, SlackMessage } from './mrkdwn.js';
import { codeBlock, context, escapeText, header, inlineCode, link, plainText, section } from './mrkdwn.js';

/** One command a dry run would run (the shape of planOperation's entries). */
export interface PlanEntry {
  host: string;
  step: string;
  command: string;
  /** The condition under which the command runs, e.g. "if not yet a member". */
  when?: string;
}

/** The button on a dry run that creates the cluster for real (handled by listeners/actions). */
export const CREATE_CONFIRM_ACTION = 'cluster_create_confirm';

/** The dry run of a create: the commands per host, and a button to run it for real. */
export function buildPlan(cluster: string, entries: PlanEntry[], options: { offerCreate: boolean }): SlackMessage {
  const byHost = new Map<string, PlanEntry[]>();
  for (const entry of entries) byHost.set(entry.host, [...(byHost.get(entry.host) ?? []), entry]);
  const blocks: Block[] = [
    header(`Dry run: cluster create ${cluster}`),
    context('Nothing was changed. These are the commands each host would run, in order.'),
  ];
  const hostBlocks: Block[] = [];
  for (const [host, hostEntries] of byHost) {
    const script = hostEntries.map((e) => `# ${e.step}${e.when ? ` (${e.when})` : ''}\n${e.command}`).join('\n');
    hostBlocks.push(section(`*${escapeText(host)}*\n${codeBlock(script, 2800)}`));
  }
  const room = 45;
  blocks.push(...hostBlocks.slice(0, room));
  if (hostBlocks.length > room)
    blocks.push(
      context(
        `… ${hostBlocks.length - room} more hosts; \`warren cluster create ` +
          `${escapeText(cluster)} --dry-run\` prints them all`,
      ),
    );
  if (entries.length === 0) blocks.push(section('Nothing to do.'));
  if (options.offerCreate) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: CREATE_CONFIRM_ACTION,
          text: {
            type: 'plain_text',
            text: withoutControls(`Create ${cluster} now`).replace(/[<>&]/g, '?').slice(0, 75),
          },
          style: 'primary',
          value: cluster,
          confirm: {
            title: { type: 'plain_text', text: 'Create the cluster?' },
            text: { type: 'mrkdwn', text: `This runs the commands above on ${byHost.size} hosts.` },
            confirm: { type: 'plain_text', text: 'Create' },
            deny: { type: 'plain_text', text: 'Cancel' },
          },
        },
      ],
    });
  }
  return {
    text: plainText(`Dry run of cluster create ${cluster}: ${entries.length} commands on ${byHost.size} hosts`),
    blocks,
  };
}

/** The ephemeral answer to a create while another operation holds the cluster. */
export function buildBusyNotice(cluster: string, running: { jobId: string; link?: string; by?: string }): SlackMessage {
  const where = running.link
    ? link(running.link, 'its card')
    : running.by
      ? `started by ${escapeText(running.by)}`
      : `job ${inlineCode(running.jobId)}`;
  return {
    text: plainText(`${cluster} already has an operation running: ${running.link ?? running.jobId}`),
    blocks: [
      section(
        `:hourglass: *${escapeText(cluster)}* already has an operation running ` +
          `— follow it on ${where}. One operation per cluster at a time; try ` +
          `again when it ends.`,
      ),
    ],
  };
}
