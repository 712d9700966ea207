import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EMULATED_TEAM } from './emulator.js';
import type { EnvelopeAck, SlackEmulator } from './emulator.js';

/** Slack's documented slash command payload; each send overrides the fields it is about. */
const SLASH_COMMAND_FIXTURE = JSON.parse(
  readFileSync(new URL('./fixtures/slash-command.json', import.meta.url), 'utf8'),
) as Record<string, string>;
const BLOCK_ACTIONS_FIXTURE = JSON.parse(
  readFileSync(new URL('./fixtures/block-actions.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

export interface SlashCommandInput {
  text: string;
  user?: string;
  userName?: string;
  channel?: string;
  channelName?: string;
  command?: string;
  teamDomain?: string;
}

export interface SigningOverrides {
  /** Seconds since the epoch for X-Slack-Request-Timestamp (default: now). */
  timestamp?: number;
  /** Sign with this secret instead of the right one (a forgery). */
  secret?: string;
  /** Send this X-Slack-Signature verbatim. */
  signature?: string;
  /** Extra headers, e.g. Slack's X-Slack-Retry-Num and X-Slack-Retry-Reason on a retry. */
  headers?: Record<string, string>;
}

export interface HttpReply {
  status: number;
  body: string;
  /** The body parsed as JSON when it is JSON (Bolt answers an ack with a message as JSON). */
  json?: Record<string, unknown>;
  responseUrl: string;
}

/** `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret, as Slack signs requests. */
export function signSlackRequest(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/**
 * Sends slash commands and interactions to the bot exactly as Slack does: form-encoded with the
 * documented fields and signed, over HTTP; or as Socket Mode envelopes through the emulator.
 */
export class SlackDriver {
  constructor(private readonly options: { emulator: SlackEmulator; botUrl?: string; signingSecret?: string }) {}

  /** The payload fields of a slash command, with a fresh response_url on the emulator. */
  slashCommandFields(input: SlashCommandInput): Record<string, string> {
    const fields: Record<string, string> = {
      ...SLASH_COMMAND_FIXTURE,
      team_domain: input.teamDomain ?? SLASH_COMMAND_FIXTURE.team_domain,
      channel_id: input.channel ?? SLASH_COMMAND_FIXTURE.channel_id,
      channel_name: input.channelName ?? SLASH_COMMAND_FIXTURE.channel_name,
      user_id: input.user ?? SLASH_COMMAND_FIXTURE.user_id,
      user_name: input.userName ?? SLASH_COMMAND_FIXTURE.user_name,
      command: input.command ?? '/rabbit',
      text: input.text,
      response_url: this.options.emulator.newResponseUrl(),
    };
    return fields;
  }

  /**
   * A block_actions payload for a button press. With `messageTs` the button is on a message in the
   * channel (an approval card), as Slack then sends it: container and message name that message.
   */
  blockAction(input: {
    actionId: string;
    value: string;
    user?: string;
    channel?: string;
    messageTs?: string;
  }): Record<string, unknown> {
    const user = input.user ?? SLASH_COMMAND_FIXTURE.user_id;
    const channel = input.channel ?? SLASH_COMMAND_FIXTURE.channel_id;
    const base = BLOCK_ACTIONS_FIXTURE as {
      actions: Record<string, unknown>[];
      user: Record<string, unknown>;
      channel: Record<string, unknown>;
      container: Record<string, unknown>;
    };
    const onMessage = input.messageTs
      ? {
          container: { type: 'message', message_ts: input.messageTs, channel_id: channel, is_ephemeral: false },
          message: {
            type: 'message',
            ts: input.messageTs,
            user: EMULATED_TEAM.botUserId,
            bot_id: EMULATED_TEAM.botId,
            text: '',
          },
        }
      : { container: { ...base.container, channel_id: channel } };
    return {
      ...base,
      user: { ...base.user, id: user },
      channel: { ...base.channel, id: channel },
      ...onMessage,
      response_url: this.options.emulator.newResponseUrl(),
      actions: [{ ...base.actions[0], action_id: input.actionId, value: input.value }],
    };
  }

  /** POSTs a slash command to the bot's HTTP endpoint, signed unless told otherwise. */
  async slashCommand(input: SlashCommandInput, signing: SigningOverrides = {}): Promise<HttpReply> {
    const fields = this.slashCommandFields(input);
    return { ...(await this.post(new URLSearchParams(fields).toString(), signing)), responseUrl: fields.response_url };
  }

  /** POSTs an interaction (`payload=<json>`), as Slack sends button presses. */
  async interaction(payload: Record<string, unknown>, signing: SigningOverrides = {}): Promise<HttpReply> {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return { ...(await this.post(body, signing)), responseUrl: String(payload.response_url) };
  }

  /** Delivers a slash command as a Socket Mode envelope and returns the bot's ack. */
  async slashCommandViaSocket(input: SlashCommandInput): Promise<{ ack: EnvelopeAck; responseUrl: string }> {
    const fields = this.slashCommandFields(input);
    return {
      ack: await this.options.emulator.sendEnvelope('slash_commands', fields),
      responseUrl: fields.response_url,
    };
  }

  async interactionViaSocket(payload: Record<string, unknown>): Promise<{ ack: EnvelopeAck; responseUrl: string }> {
    return {
      ack: await this.options.emulator.sendEnvelope('interactive', payload),
      responseUrl: String(payload.response_url),
    };
  }

  /**
   * POSTs a form body as it is (a slash command's fields, say), signed unless told otherwise: to deliver one request
   * again.
   */
  async postForm(body: string, signing: SigningOverrides = {}): Promise<Omit<HttpReply, 'responseUrl'>> {
    return this.post(body, signing);
  }

  private async post(body: string, signing: SigningOverrides): Promise<Omit<HttpReply, 'responseUrl'>> {
    const { botUrl, signingSecret } = this.options;
    if (!botUrl || !signingSecret) throw new Error('driver: botUrl and signingSecret are needed for HTTP');
    const timestamp = signing.timestamp ?? Math.floor(Date.now() / 1000);
    const signature = signing.signature ?? signSlackRequest(signing.secret ?? signingSecret, timestamp, body);
    const response = await fetch(botUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(timestamp),
        'x-slack-signature': signature,
        'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
        ...signing.headers,
      },
      body,
    });
    const text = await response.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, body: text, ...(json ? { json } : {}) };
  }
}
