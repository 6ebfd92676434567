/**
 * A local Discord for end-to-end tests: REST over node:http at `apiUrl` (set DISCORD_API_URL to
 * it), the gateway over `ws` (found through GET /gateway/bot), and a CDN for attachments. Tests
 * dispatch INTERACTION_CREATE and MESSAGE_CREATE and read back every REST call the bot made.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeCdn } from './cdn.ts';
import { FakeGateway } from './gateway.ts';
import {
  createMessage,
  type FakeInteraction,
  type FakeMessage,
  guildOf,
  handleRest,
  type RestCall,
  type RestState,
} from './rest.ts';
import { snowflake } from './snowflake.ts';

export type { FakeMessage, RestCall };

/** Permission bits as Discord sends them (strings). */
export const PERMS = {
  member: ((1n << 10n) | (1n << 11n) | (1n << 31n)).toString(), // view, send, use commands
  admin: ((1n << 5n) | (1n << 10n) | (1n << 11n) | (1n << 31n)).toString(), // + Manage Server
  app: ((1n << 10n) | (1n << 11n) | (1n << 15n) | (1n << 16n) | (1n << 35n) | (1n << 38n)).toString(),
};

export interface FakeUser {
  readonly id: string;
  readonly username: string;
  readonly discriminator: string;
  readonly global_name: string;
  readonly avatar: null;
  readonly bot?: boolean;
}

export interface AttachmentSpec {
  readonly name: string;
  readonly url: string;
  readonly size: number;
  readonly contentType?: string;
}

export interface InteractionOptions {
  readonly user?: FakeUser;
  readonly admin?: boolean;
  readonly roles?: readonly string[];
  /**
   * A channel id of this fake: `channelId` (default), `threadId`, `dmChannelId`, or `otherChannelId`
   * (in the second guild). The interaction comes from that channel's guild.
   */
  readonly channelId?: string;
  readonly attachmentSizeLimit?: number;
  /** Creation time encoded in the interaction id (to make its token look expired). */
  readonly createdAt?: number;
}

export class FakeDiscord {
  readonly token = 'fake-bot-token';
  readonly appId = snowflake();
  readonly guildId = snowflake();
  readonly channelId = snowflake();
  readonly threadId = snowflake();
  readonly dmChannelId = snowflake();
  /** A guild role with no permissions of its own (tests list it in DISCORD_ADMIN_ROLE_IDS). */
  readonly modRoleId = snowflake();
  /**
   * A second guild the bot is in but never got GUILD_CREATE for, as when anyone invites a public
   * bot to a server of their own: its interactions still arrive (bots/discord/README.md, "Admin scope").
   */
  readonly otherGuildId = snowflake();
  /** A text channel of the second guild. */
  readonly otherChannelId = snowflake();
  readonly botUser: FakeUser = {
    id: this.appId,
    username: 'stillmotion',
    discriminator: '0',
    global_name: 'stillmotion',
    avatar: null,
    bot: true,
  };
  readonly cdn = new FakeCdn();
  readonly state: RestState;
  readonly #server: Server;
  #gateway!: FakeGateway;
  #waiters: { check: (c: RestCall) => boolean; resolve: (c: RestCall) => void }[] = [];
  apiUrl = '';

  constructor() {
    this.state = {
      token: this.token,
      appId: this.appId,
      botUser: this.botUser as unknown as Record<string, unknown>,
      guildId: this.guildId,
      gatewayUrl: '',
      calls: [],
      messages: new Map(),
      interactions: new Map(),
      threads: new Map(),
      commands: [],
      webhookFailure: undefined,
      threadsForbidden: false,
      ackDeadlineMs: 3000,
      channelTypes: new Map([
        [this.channelId, 0],
        [this.threadId, 11],
        [this.dmChannelId, 1],
      ]),
      channelGuilds: new Map([[this.otherChannelId, this.otherGuildId]]),
      onCall: (call) => {
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.check(call)) return true;
          w.resolve(call);
          return false;
        });
      },
    };
    this.#server = createServer((req, res) => {
      handleRest(this.state, req, res).then(
        (handled) => {
          if (!handled) res.writeHead(404).end();
        },
        (err: unknown) => {
          res
            .writeHead(500, { 'content-type': 'application/json' })
            .end(JSON.stringify({ message: String(err), code: 0 }));
        },
      );
    });
  }

  static async start(): Promise<FakeDiscord> {
    const fake = new FakeDiscord();
    fake.#server.listen(0, '127.0.0.1');
    await once(fake.#server, 'listening');
    const port = (fake.#server.address() as AddressInfo).port;
    fake.apiUrl = `http://127.0.0.1:${port}/api`;
    fake.state.gatewayUrl = `ws://127.0.0.1:${port}/gateway`;
    fake.#gateway = new FakeGateway(fake.#server, {
      user: fake.botUser as unknown as Record<string, unknown>,
      appId: fake.appId,
      guild: () => fake.guild(),
      resumeUrl: () => fake.state.gatewayUrl,
    });
    await fake.cdn.start();
    return fake;
  }

  get gateway(): FakeGateway {
    return this.#gateway;
  }

  get calls(): RestCall[] {
    return this.state.calls;
  }

  user(name: string): FakeUser {
    return { id: snowflake(), username: name, discriminator: '0', global_name: name, avatar: null };
  }

  /**
   * The bot joins another guild with one text channel: GUILD_CREATE is dispatched, so discord.js
   * caches it (as for any guild the bot is in with the `bot` scope). Returns its ids.
   */
  joinGuild(): { guildId: string; channelId: string } {
    const guildId = snowflake();
    const channelId = snowflake();
    this.state.channelGuilds.set(channelId, guildId);
    const main = this.guild();
    this.#gateway.dispatch('GUILD_CREATE', {
      ...main,
      id: guildId,
      name: 'Another Guild',
      roles: (main.roles as Record<string, unknown>[]).map((r) =>
        r.id === this.guildId ? { ...r, id: guildId } : r,
      ),
      channels: [{ ...(main.channels as Record<string, unknown>[])[0], id: channelId, guild_id: guildId }],
      threads: [],
    });
    return { guildId, channelId };
  }

  guild(): Record<string, unknown> {
    const now = new Date().toISOString();
    return {
      id: this.guildId,
      name: 'Fake Guild',
      icon: null,
      owner_id: snowflake(),
      unavailable: false,
      member_count: 3,
      large: false,
      features: [],
      joined_at: now,
      premium_tier: 0,
      system_channel_flags: 0,
      roles: [
        {
          id: this.modRoleId,
          name: 'mods',
          permissions: '0',
          position: 1,
          color: 0,
          hoist: false,
          managed: false,
          mentionable: false,
          flags: 0,
        },
        {
          id: this.guildId,
          name: '@everyone',
          permissions: PERMS.member,
          position: 0,
          color: 0,
          hoist: false,
          managed: false,
          mentionable: false,
          flags: 0,
        },
      ],
      channels: [
        {
          id: this.channelId,
          type: 0,
          name: 'general',
          guild_id: this.guildId,
          position: 0,
          permission_overwrites: [],
        },
      ],
      threads: [this.#threadChannel()],
      members: [],
      voice_states: [],
      presences: [],
      emojis: [],
      stickers: [],
      stage_instances: [],
      guild_scheduled_events: [],
    };
  }

  #threadChannel(): Record<string, unknown> {
    return {
      id: this.threadId,
      type: 11,
      name: 'existing thread',
      guild_id: this.guildId,
      parent_id: this.channelId,
      owner_id: snowflake(),
      thread_metadata: {
        archived: false,
        auto_archive_duration: 1440,
        archive_timestamp: new Date().toISOString(),
        locked: false,
      },
      message_count: 0,
      member_count: 1,
    };
  }

  #channelObject(channelId: string, user: FakeUser): Record<string, unknown> {
    const type = this.state.channelTypes.get(channelId) ?? 0;
    if (type === 1) return { id: channelId, type: 1, recipients: [user], last_message_id: null, flags: 0 };
    const thread = this.state.threads.get(channelId);
    if (channelId === this.threadId) return this.#threadChannel();
    if (thread) return thread;
    return {
      id: channelId,
      type,
      name: 'general',
      guild_id: guildOf(this.state, channelId),
      position: 0,
      permission_overwrites: [],
      nsfw: false,
    };
  }

  /** An attachment object as Discord puts it in payloads, served by the CDN (or any URL). */
  attachment(spec: AttachmentSpec): Record<string, unknown> {
    return {
      id: snowflake(),
      filename: spec.name,
      size: spec.size,
      url: spec.url,
      proxy_url: spec.url,
      ...(spec.contentType ? { content_type: spec.contentType } : {}),
    };
  }

  /** Serves bytes from the CDN and returns the attachment spec for payloads. */
  upload(name: string, data: Buffer, contentType: string): AttachmentSpec {
    return { name, url: this.cdn.add(name, data, contentType), size: data.byteLength, contentType };
  }

  #interaction(
    type: number,
    data: Record<string, unknown>,
    options: InteractionOptions,
    extra: Record<string, unknown> = {},
  ) {
    const user = options.user ?? this.user('someone');
    const channelId = options.channelId ?? this.channelId;
    const dm = this.state.channelTypes.get(channelId) === 1;
    const guildId = guildOf(this.state, channelId);
    const id = snowflake(options.createdAt);
    const token = `itok-${id}-${Math.random().toString(36).slice(2)}`;
    const record: FakeInteraction = {
      id,
      token,
      type,
      channelId,
      guildId: dm ? undefined : guildId,
      dispatchedAt: Date.now(),
      acked: false,
    };
    if (extra.message) record.originalId = (extra.message as FakeMessage).id;
    this.state.interactions.set(id, record);
    const payload = {
      id,
      application_id: this.appId,
      type,
      data,
      token,
      version: 1,
      locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { 0: guildId },
      context: dm ? 1 : 0,
      app_permissions: PERMS.app,
      channel_id: channelId,
      channel: this.#channelObject(channelId, user),
      ...(options.attachmentSizeLimit ? { attachment_size_limit: options.attachmentSizeLimit } : {}),
      ...(dm
        ? { user }
        : {
            guild_id: guildId,
            guild_locale: 'en-US',
            member: {
              user,
              roles: [...(options.roles ?? [])],
              joined_at: new Date().toISOString(),
              permissions: options.admin ? PERMS.admin : PERMS.member,
              deaf: false,
              mute: false,
              flags: 0,
              pending: false,
            },
          }),
      ...extra,
    };
    this.#gateway.dispatch('INTERACTION_CREATE', payload);
    return record;
  }

  /** `/name` with options (`{name, type, value}`); attachments go to `data.resolved.attachments`. */
  slash(
    name: string,
    options: readonly { name: string; type: number; value?: unknown; options?: unknown[] }[],
    opts: InteractionOptions & { attachments?: Record<string, unknown>[] } = {},
  ): FakeInteraction {
    const resolved = opts.attachments?.length
      ? { attachments: Object.fromEntries(opts.attachments.map((a) => [a.id as string, a])) }
      : undefined;
    return this.#interaction(
      2,
      { id: snowflake(), name, type: 1, options, ...(resolved ? { resolved } : {}) },
      opts,
    );
  }

  /** The message context menu command `name` on `message`. */
  contextMenu(name: string, message: FakeMessage, opts: InteractionOptions = {}): FakeInteraction {
    return this.#interaction(
      2,
      {
        id: snowflake(),
        name,
        type: 3,
        target_id: message.id,
        resolved: { messages: { [message.id]: this.#wire(message) } },
      },
      { channelId: message.channel_id, ...opts },
    );
  }

  /** A click on button `customId` of `message`. */
  button(customId: string, message: FakeMessage, opts: InteractionOptions = {}): FakeInteraction {
    return this.#interaction(
      3,
      { custom_id: customId, component_type: 2 },
      { channelId: message.channel_id, ...opts },
      { message: this.#wire(message) },
    );
  }

  /** Autocomplete for option `focused` of `/name`. */
  autocomplete(
    name: string,
    focused: { name: string; type: number; value: string },
    opts: InteractionOptions = {},
  ): FakeInteraction {
    return this.#interaction(
      4,
      { id: snowflake(), name, type: 1, options: [{ ...focused, focused: true }] },
      opts,
    );
  }

  /** A user message (MESSAGE_CREATE), stored so the bot can fetch it. */
  postMessage(opts: {
    author: FakeUser;
    content: string;
    channelId?: string;
    attachments?: Record<string, unknown>[];
    embeds?: unknown[];
    mentionBot?: boolean;
    replyTo?: FakeMessage;
  }): FakeMessage {
    const channelId = opts.channelId ?? this.channelId;
    const message = createMessage(
      this.state,
      channelId,
      { content: opts.content, embeds: opts.embeds ?? [] },
      [],
      {
        author: opts.author as unknown as Record<string, unknown>,
        attachments: opts.attachments ?? [],
        mentions: opts.mentionBot ? [this.botUser] : [],
        type: opts.replyTo ? 19 : 0,
        ...(opts.replyTo
          ? {
              message_reference: {
                type: 0,
                message_id: opts.replyTo.id,
                channel_id: opts.replyTo.channel_id,
                guild_id: guildOf(this.state, opts.replyTo.channel_id),
              },
              referenced_message: this.#wire(opts.replyTo),
            }
          : {}),
      },
    );
    this.#gateway.dispatch('MESSAGE_CREATE', {
      ...this.#wire(message),
      // Discord names the channel type on gateway messages; discord.js needs it to build a DM channel.
      channel_type: this.state.channelTypes.get(channelId) ?? 0,
      ...(this.state.channelTypes.get(channelId) === 1
        ? {}
        : { member: { roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 } }),
    });
    return message;
  }

  /** A message as sent on the wire (without the fake's bookkeeping). */
  #wire(message: FakeMessage): FakeMessage {
    const { files: _files, ...rest } = message;
    return rest as FakeMessage;
  }

  message(id: string): FakeMessage | undefined {
    return this.state.messages.get(id);
  }

  /** Resolves with the first call (already recorded or future) that matches. */
  waitForCall(check: (c: RestCall) => boolean, timeoutMs = 60_000, after = 0): Promise<RestCall> {
    const found = this.state.calls.slice(after).find(check);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a REST call')), timeoutMs);
      this.#waiters.push({
        check,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      });
    });
  }

  /** Calls made by and for one interaction token (callback + webhook routes). */
  callsFor(interaction: FakeInteraction): RestCall[] {
    return this.state.calls.filter((c) => c.path.includes(interaction.token));
  }

  async stop(): Promise<void> {
    this.#gateway.close();
    this.#server.closeAllConnections();
    this.#server.close();
    await this.cdn.stop();
  }
}
