/**
 * Plays a Slack user against the app: builds the payloads Slack sends for a slash command, a message
 * shortcut, a modal submission, a button click and an `app_mention`, and delivers them over Socket
 * Mode (acks checked by envelope_id) or, for HTTP mode, as signed POSTs to the app's request URL.
 */
import { createHmac } from 'node:crypto';
import type { FakeSlack } from './fake-slack.ts';
import type { Ack, EnvelopeType } from './socket.ts';
import { type FakeFile, type FakeMessage, publicFile, publicMessage } from './workspace.ts';

export interface HttpTransport {
  readonly url: string;
  readonly signingSecret: string;
}

export interface User {
  readonly id: string;
  readonly name?: string;
}

export class SlackDriver {
  readonly fake: FakeSlack;
  readonly http: HttpTransport | undefined;
  #responseSeq = 0;

  constructor(fake: FakeSlack, http?: HttpTransport) {
    this.fake = fake;
    this.http = http;
  }

  get team(): string {
    return this.fake.ws.teamId;
  }

  #responseUrl(): string {
    this.#responseSeq += 1;
    return `${this.fake.origin}/respond/R${this.#responseSeq}`;
  }

  /** Sends one payload the way the app receives it, and returns its ack. */
  async deliver(type: EnvelopeType, payload: Record<string, unknown>): Promise<Ack> {
    if (!this.http) return this.fake.socket.send(type, payload);
    const body =
      type === 'events_api'
        ? JSON.stringify(payload)
        : type === 'interactive'
          ? new URLSearchParams({ payload: JSON.stringify(payload) }).toString()
          : new URLSearchParams(payload as Record<string, string>).toString();
    const ts = Math.floor(Date.now() / 1000).toString();
    const sig = `v0=${createHmac('sha256', this.http.signingSecret).update(`v0:${ts}:${body}`).digest('hex')}`;
    const started = Date.now();
    const res = await fetch(this.http.url, {
      method: 'POST',
      headers: {
        'content-type': type === 'events_api' ? 'application/json' : 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': ts,
        'x-slack-signature': sig,
      },
      body,
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`app answered ${res.status}: ${text}`);
    let ackPayload: Record<string, unknown> = {};
    if (text) {
      try {
        ackPayload = JSON.parse(text) as Record<string, unknown>;
      } catch {
        ackPayload = { text };
      }
    }
    return { envelope_id: 'http', type, payload: ackPayload, ms: Date.now() - started };
  }

  slashCommand(command: string, text: string, user: User, channel: string): Promise<Ack> {
    return this.deliver('slash_commands', {
      token: 'verification-token',
      team_id: this.team,
      team_domain: 'fake',
      channel_id: channel,
      channel_name: 'general',
      user_id: user.id,
      user_name: user.name ?? user.id.toLowerCase(),
      command,
      text,
      api_app_id: 'A0STILL',
      is_enterprise_install: 'false',
      response_url: this.#responseUrl(),
      trigger_id: this.fake.issueTrigger(),
    });
  }

  messageShortcut(callbackId: string, message: FakeMessage, user: User): Promise<Ack> {
    return this.deliver('interactive', {
      type: 'message_action',
      token: 'verification-token',
      action_ts: `${Date.now() / 1000}`,
      team: { id: this.team, domain: 'fake' },
      user: { id: user.id, name: user.name ?? user.id.toLowerCase(), team_id: this.team },
      channel: { id: message.channel, name: 'general' },
      is_enterprise_install: false,
      enterprise: null,
      callback_id: callbackId,
      trigger_id: this.fake.issueTrigger(),
      response_url: this.#responseUrl(),
      message_ts: message.ts,
      message: publicMessage(message),
    });
  }

  /**
   * Submits an opened modal. Like Slack, every input starts from its initial value; `values`
   * (block_id → action_id → value object) replaces what the user changed.
   */
  submitView(viewId: string, user: User, changed: Record<string, Record<string, unknown>>): Promise<Ack> {
    const view = this.fake.views.get(viewId);
    if (!view) throw new Error(`no view ${viewId}`);
    const values = { ...initialState(view), ...changed };
    return this.deliver('interactive', {
      type: 'view_submission',
      token: 'verification-token',
      team: { id: this.team, domain: 'fake' },
      user: {
        id: user.id,
        username: user.name ?? user.id.toLowerCase(),
        name: user.name ?? user.id,
        team_id: this.team,
      },
      api_app_id: 'A0STILL',
      trigger_id: this.fake.issueTrigger(),
      view: { ...view, state: { values } },
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    });
  }

  clickButton(message: FakeMessage, actionId: string, user: User): Promise<Ack> {
    const action = findButton(message, actionId);
    return this.deliver('interactive', {
      type: 'block_actions',
      token: 'verification-token',
      team: { id: this.team, domain: 'fake' },
      user: { id: user.id, username: user.name ?? user.id.toLowerCase(), team_id: this.team },
      api_app_id: 'A0STILL',
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: message.channel,
        is_ephemeral: false,
      },
      trigger_id: this.fake.issueTrigger(),
      channel: { id: message.channel, name: 'general' },
      message: publicMessage(message),
      response_url: this.#responseUrl(),
      is_enterprise_install: false,
      enterprise: null,
      actions: [{ ...action, type: 'button', action_ts: `${Date.now() / 1000}` }],
    });
  }

  /** Posts `text` as a user message that mentions the bot and sends the `app_mention` event. */
  async mention(opts: { user: User; channel: string; text: string; thread_ts?: string; files?: FakeFile[] }) {
    const msg = this.fake.ws.post({
      channel: opts.channel,
      user: opts.user.id,
      text: `<@${this.fake.botUserId}> ${opts.text}`,
      thread_ts: opts.thread_ts,
      files: opts.files,
    });
    const event = {
      type: 'app_mention',
      user: opts.user.id,
      text: msg.text,
      ts: msg.ts,
      channel: opts.channel,
      event_ts: msg.ts,
      team: this.team,
      client_msg_id: `c-${msg.ts}`,
      ...(opts.thread_ts ? { thread_ts: opts.thread_ts } : {}),
      ...(opts.files ? { files: opts.files.map(publicFile), upload: false } : {}),
    };
    const ack = await this.deliver('events_api', {
      token: 'verification-token',
      team_id: this.team,
      api_app_id: 'A0STILL',
      event,
      type: 'event_callback',
      event_id: `Ev${msg.ts.replace('.', '')}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [
        { team_id: this.team, user_id: this.fake.botUserId, is_bot: true, is_enterprise_install: false },
      ],
      is_ext_shared_channel: false,
    });
    return { ack, message: msg };
  }
}

/** view.state.values as Slack fills it from the inputs' initial values. */
function initialState(view: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const state: Record<string, Record<string, unknown>> = {};
  for (const block of (view.blocks ?? []) as Array<{
    type: string;
    block_id?: string;
    element?: Record<string, unknown>;
  }>) {
    const el = block.element;
    if (block.type !== 'input' || !block.block_id || !el) continue;
    const action = String(el.action_id);
    if (el.type === 'static_select')
      state[block.block_id] = { [action]: { type: el.type, selected_option: el.initial_option ?? null } };
    else if (el.type === 'file_input') state[block.block_id] = { [action]: { type: el.type, files: [] } };
    else state[block.block_id] = { [action]: { type: el.type, value: el.initial_value ?? null } };
  }
  return state;
}

/** The button element with `actionId` in a message's blocks (with its block_id). */
export function findButton(message: FakeMessage, actionId: string): Record<string, unknown> {
  for (const block of (message.blocks ?? []) as Array<{
    block_id?: string;
    elements?: Array<Record<string, unknown>>;
  }>) {
    for (const el of block.elements ?? []) {
      if (el.action_id === actionId) return { ...el, block_id: block.block_id ?? 'b' };
    }
  }
  throw new Error(`no button ${actionId} on message ${message.ts}`);
}

export function buttonIds(message: FakeMessage): string[] {
  const ids: string[] = [];
  for (const block of (message.blocks ?? []) as Array<{ elements?: Array<Record<string, unknown>> }>) {
    for (const el of block.elements ?? []) if (el.type === 'button') ids.push(String(el.action_id));
  }
  return ids;
}
