/**
 * The fake Slack's state: one workspace with channels, messages (with threads) and files.
 * Shapes follow the Web API's JSON closely enough for Bolt and the bot to read them.
 */

export interface FakeFile {
  readonly id: string;
  readonly name: string;
  readonly mimetype: string;
  readonly filetype: string;
  readonly size: number;
  readonly url_private: string;
  readonly url_private_download: string;
  readonly user: string;
  /** Raw bytes served at url_private_download (with the bot token). */
  readonly data: Buffer;
  /** Filled for uploads: where files.completeUploadExternal shared it. */
  channel?: string;
  thread_ts?: string;
  initial_comment?: string;
  title?: string;
}

export interface FakeMessage {
  ts: string;
  channel: string;
  user: string;
  text: string;
  thread_ts?: string;
  blocks?: unknown[];
  files?: FakeFile[];
  deleted?: boolean;
}

/** A file object as the Web API returns it (no bytes). */
export function publicFile(f: FakeFile): Record<string, unknown> {
  const { data: _data, channel: _c, thread_ts: _t, initial_comment: _i, ...rest } = f;
  return { ...rest, mode: 'hosted', is_external: false, pretty_type: f.filetype.toUpperCase() };
}

export function publicMessage(m: FakeMessage): Record<string, unknown> {
  const { channel: _c, deleted: _d, files, ...rest } = m;
  return { type: 'message', ...rest, ...(files ? { files: files.map(publicFile) } : {}) };
}

export class Workspace {
  readonly teamId: string;
  readonly messages: FakeMessage[] = [];
  readonly files = new Map<string, FakeFile>();
  /** Channels the bot is not a member of: posting there answers not_in_channel. */
  readonly outside = new Set<string>();
  #clock = 1_700_000_000;
  #seq = 0;

  constructor(teamId: string) {
    this.teamId = teamId;
  }

  nextTs(): string {
    this.#seq += 1;
    return `${this.#clock + this.#seq}.${String(this.#seq).padStart(6, '0')}`;
  }

  nextId(prefix: string): string {
    this.#seq += 1;
    return `${prefix}${String(this.#seq).padStart(8, '0')}`;
  }

  post(m: Omit<FakeMessage, 'ts'> & { ts?: string }): FakeMessage {
    const msg: FakeMessage = { ...m, ts: m.ts ?? this.nextTs() };
    this.messages.push(msg);
    return msg;
  }

  find(channel: string, ts: string): FakeMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts && !m.deleted);
  }

  /** conversations.replies: a parent gives itself and its replies; a reply gives only itself. */
  replies(channel: string, ts: string): FakeMessage[] {
    const msg = this.find(channel, ts);
    if (!msg) return [];
    if (msg.thread_ts && msg.thread_ts !== msg.ts) return [msg];
    return this.messages.filter(
      (m) => m.channel === channel && !m.deleted && (m.ts === ts || m.thread_ts === ts),
    );
  }

  /** Messages posted in the thread under `ts` (not the parent). */
  thread(channel: string, ts: string): FakeMessage[] {
    return this.messages.filter(
      (m) => m.channel === channel && m.thread_ts === ts && m.ts !== ts && !m.deleted,
    );
  }
}
