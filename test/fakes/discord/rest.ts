/**
 * The fake Discord's REST API (`/api/v10/…`): records every call, keeps the messages it creates,
 * and answers the routes discord.js and the bot use with Discord's shapes and error codes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { snowflake } from './snowflake.ts';

/** A JSON body as discord.js sends it; tests read its fields freely. */
// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of every route are read field by field in tests
export type Json = any;

export interface RecordedFile {
  readonly field: string;
  readonly name: string;
  readonly contentType: string;
  readonly data: Buffer;
}

export interface RestCall {
  readonly method: string;
  /** Path after `/api/v10`, e.g. `/webhooks/1/tok/messages/@original`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly auth: string | undefined;
  /** JSON body, or the `payload_json` of a multipart body. */
  readonly body: Json;
  readonly files: readonly RecordedFile[];
  readonly at: number;
  status: number;
}

export interface FakeInteraction {
  readonly id: string;
  readonly token: string;
  readonly type: number;
  readonly channelId: string;
  readonly guildId: string | undefined;
  readonly dispatchedAt: number;
  acked: boolean;
  callbackType?: number;
  /** The reply message (or, for components, the message the button is on). */
  originalId?: string;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: Record<string, unknown>;
  content: string;
  attachments: Record<string, unknown>[];
  embeds: unknown[];
  components: unknown[];
  flags: number;
  mentions: unknown[];
  mention_roles: string[];
  mention_everyone: boolean;
  timestamp: string;
  edited_timestamp: string | null;
  type: number;
  tts: boolean;
  pinned: boolean;
  message_reference?: Record<string, unknown>;
  referenced_message?: FakeMessage | null;
  webhook_id?: string;
  /** Bytes of uploaded files (not part of Discord's shape). */
  files?: RecordedFile[];
}

export interface RestState {
  readonly token: string;
  readonly appId: string;
  readonly botUser: Record<string, unknown>;
  readonly guildId: string;
  gatewayUrl: string;
  readonly calls: RestCall[];
  readonly messages: Map<string, FakeMessage>;
  readonly interactions: Map<string, FakeInteraction>;
  readonly threads: Map<string, Record<string, unknown>>;
  readonly commands: { guild?: string; body: Json[] }[];
  /** When set, every interaction webhook call is answered with this error. */
  webhookFailure: { status: number; code: number; message: string } | undefined;
  /** Discord answers 10062 Unknown interaction to a callback later than this. @default 3000 */
  ackDeadlineMs: number;
  /** When set, thread creation is refused with 403 Missing Permissions. */
  threadsForbidden: boolean;
  /** When set, channel messages (the bot's own posts) are refused with 403 Missing Permissions. */
  channelPostsForbidden?: boolean;
  /** Channel ids that are threads (type 11) or DMs (type 1). */
  readonly channelTypes: Map<string, number>;
  /** The guild of channels outside the main guild (the second guild's channel, threads in it). */
  readonly channelGuilds: Map<string, string>;
  /** Called after each call is recorded (tests wait on it). */
  onCall?: (call: RestCall) => void;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function parseBody(req: IncomingMessage, raw: Buffer): Promise<{ body: Json; files: RecordedFile[] }> {
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake/', {
      method: 'POST',
      headers: { 'content-type': type },
      body: new Uint8Array(raw),
    }).formData();
    const files: RecordedFile[] = [];
    let body: Json = {};
    for (const [field, value] of form as unknown as Iterable<[string, FormDataEntryValue]>) {
      if (typeof value === 'string') {
        if (field === 'payload_json') body = JSON.parse(value);
        else body[field] = value;
      } else {
        files.push({
          field,
          name: value.name,
          contentType: value.type,
          data: Buffer.from(await value.arrayBuffer()),
        });
      }
    }
    return { body, files };
  }
  if (raw.length === 0) return { body: undefined, files: [] };
  return { body: JSON.parse(raw.toString('utf8')), files: [] };
}

/** The guild a (non-DM) channel belongs to. */
export function guildOf(state: RestState, channelId: string): string {
  return state.channelGuilds.get(channelId) ?? state.guildId;
}

export function createMessage(
  state: RestState,
  channelId: string,
  body: Json,
  files: RecordedFile[],
  extra: Partial<FakeMessage> = {},
): FakeMessage {
  const id = snowflake();
  const message: FakeMessage = {
    id,
    channel_id: channelId,
    ...(state.channelTypes.get(channelId) === 1 ? {} : { guild_id: guildOf(state, channelId) }),
    author: state.botUser,
    content: body?.content ?? '',
    attachments: files.map((f, i) => ({
      id: snowflake(),
      filename: f.name,
      size: f.data.byteLength,
      content_type: f.contentType,
      url: `https://cdn.discordapp.com/attachments/${channelId}/${id}/${i}/${f.name}`,
      proxy_url: `https://media.discordapp.net/attachments/${channelId}/${id}/${i}/${f.name}`,
    })),
    embeds: body?.embeds ?? [],
    components: body?.components ?? [],
    flags: body?.flags ?? 0,
    mentions: [],
    mention_roles: [],
    mention_everyone: false,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    type: 0,
    tts: false,
    pinned: false,
    files,
    ...extra,
  };
  state.messages.set(id, message);
  return message;
}

function editMessage(message: FakeMessage, body: Json, files: RecordedFile[]): FakeMessage {
  if (body?.content !== undefined) message.content = body.content ?? '';
  if (body?.components !== undefined) message.components = body.components;
  if (body?.embeds !== undefined) message.embeds = body.embeds;
  if (files.length > 0) message.files = files;
  message.flags &= ~128; // no longer "thinking"
  message.edited_timestamp = new Date().toISOString();
  return message;
}

/** Handles one REST request; returns false if the path is not under /api/v10. */
export async function handleRest(
  state: RestState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://fake');
  if (!url.pathname.startsWith('/api/v10/')) return false;
  const path = decodeURIComponent(url.pathname.slice('/api/v10'.length));
  const raw = await readBody(req);
  const { body, files } = await parseBody(req, raw);
  const call: RestCall = {
    method: req.method ?? 'GET',
    path,
    query: Object.fromEntries(url.searchParams),
    auth: req.headers.authorization,
    body,
    files,
    at: Date.now(),
    status: 0,
  };
  state.calls.push(call);
  const reply = (status: number, payload?: unknown): true => {
    call.status = status;
    send(res, status, payload);
    state.onCall?.(call);
    return true;
  };
  const method = call.method;
  let match = [] as unknown as RegExpExecArray;
  const hit = (re: RegExp, wanted?: string): boolean => {
    const found = re.exec(path);
    if (!found || (wanted && wanted !== method)) return false;
    match = found;
    return true;
  };

  // Interaction callback and webhooks: no Authorization header.
  if (hit(/^\/interactions\/(\d+)\/([^/]+)\/callback$/, 'POST')) {
    const interaction = state.interactions.get(match[1]!);
    if (!interaction || interaction.token !== match[2])
      return reply(404, { code: 10062, message: 'Unknown interaction' });
    if (interaction.acked)
      return reply(400, { code: 40060, message: 'Interaction has already been acknowledged.' });
    if (Date.now() - interaction.dispatchedAt > state.ackDeadlineMs)
      return reply(404, { code: 10062, message: 'Unknown interaction' });
    interaction.acked = true;
    interaction.callbackType = body.type;
    let message: FakeMessage | undefined;
    if (body.type === 4 || body.type === 5) {
      message = createMessage(state, interaction.channelId, body.data ?? {}, files, {
        flags: (body.data?.flags ?? 0) | (body.type === 5 ? 128 : 0),
        webhook_id: state.appId,
        type: 20,
      });
      interaction.originalId = message.id;
    } else if (body.type === 7 && interaction.originalId) {
      message = editMessage(state.messages.get(interaction.originalId)!, body.data, files);
    }
    if (call.query.with_response === 'true') {
      return reply(200, {
        interaction: {
          id: interaction.id,
          type: interaction.type,
          activity_instance_id: null,
          response_message_id: message?.id,
          response_message_loading: body.type === 5,
          response_message_ephemeral: Boolean((body.data?.flags ?? 0) & 64),
        },
        resource: { type: body.type, ...(message && body.type !== 5 ? { message } : {}) },
      });
    }
    return reply(204);
  }
  if (hit(/^\/webhooks\/(\d+)\/([^/]+)(\/messages\/([^/]+))?$/)) {
    const interaction = [...state.interactions.values()].find((i) => i.token === match[2]);
    if (state.webhookFailure) {
      const f = state.webhookFailure;
      return reply(f.status, { code: f.code, message: f.message });
    }
    if (!interaction || match[1] !== state.appId)
      return reply(404, { code: 10015, message: 'Unknown Webhook' });
    const target = match[4] === '@original' ? interaction.originalId : match[4];
    if (!match[3] && method === 'POST') {
      const message = createMessage(state, interaction.channelId, body, files, { webhook_id: state.appId });
      return reply(200, message);
    }
    const message = target ? state.messages.get(target) : undefined;
    if (!message) return reply(404, { code: 10008, message: 'Unknown Message' });
    if (method === 'GET') return reply(200, message);
    if (method === 'PATCH') return reply(200, editMessage(message, body, files));
    if (method === 'DELETE') {
      state.messages.delete(message.id);
      return reply(204);
    }
  }

  // Bot routes: Authorization: Bot <token>.
  if (call.auth !== `Bot ${state.token}`) return reply(401, { code: 0, message: '401: Unauthorized' });
  if (path === '/gateway/bot' && method === 'GET') {
    return reply(200, {
      url: state.gatewayUrl,
      shards: 1,
      session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
    });
  }
  if (path === '/applications/@me' && method === 'GET')
    return reply(200, { id: state.appId, name: 'stillmotion', flags: 0 });
  if (hit(/^\/applications\/(\d+)(\/guilds\/(\d+))?\/commands$/, 'PUT')) {
    state.commands.push({ guild: match[3], body });
    return reply(
      200,
      (body as Json[]).map((c) => ({
        ...c,
        id: snowflake(),
        application_id: state.appId,
        version: snowflake(),
        guild_id: match[3],
      })),
    );
  }
  if (hit(/^\/channels\/(\d+)\/messages\/(\d+)\/threads$/, 'POST')) {
    if (state.threadsForbidden) return reply(403, { code: 50013, message: 'Missing Permissions' });
    const [, channelId, messageId] = match;
    if (state.channelTypes.get(channelId!) === 1)
      return reply(400, { code: 50003, message: 'Cannot execute action on a DM channel' });
    if (state.threads.has(messageId!))
      return reply(400, { code: 160004, message: 'A thread has already been created for this message' });
    const thread = {
      id: messageId,
      type: 11,
      guild_id: guildOf(state, channelId!),
      parent_id: channelId,
      name: body?.name,
      owner_id: state.botUser.id,
      thread_metadata: {
        archived: false,
        auto_archive_duration: body?.auto_archive_duration ?? 1440,
        archive_timestamp: new Date().toISOString(),
        locked: false,
      },
      message_count: 0,
      member_count: 1,
    };
    state.threads.set(messageId!, thread);
    state.channelTypes.set(messageId!, 11);
    state.channelGuilds.set(messageId!, guildOf(state, channelId!));
    return reply(201, thread);
  }
  if (hit(/^\/channels\/(\d+)\/messages$/, 'POST')) {
    if (state.channelPostsForbidden) return reply(403, { code: 50013, message: 'Missing Permissions' });
    return reply(200, createMessage(state, match[1]!, body, files));
  }
  if (hit(/^\/channels\/(\d+)\/messages\/(\d+)$/)) {
    const message = state.messages.get(match[2]!);
    if (!message || message.channel_id !== match[1])
      return reply(404, { code: 10008, message: 'Unknown Message' });
    if (method === 'GET') return reply(200, message);
    if (method === 'PATCH') return reply(200, editMessage(message, body, files));
    if (method === 'DELETE') {
      state.messages.delete(message.id);
      return reply(204);
    }
  }
  return reply(404, { code: 0, message: `fake Discord has no route ${method} ${path}` });
}
