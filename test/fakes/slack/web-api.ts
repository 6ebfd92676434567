/**
 * The fake Web API methods the bot and Bolt call. Each takes the parsed arguments and answers the
 * JSON Slack would; the server records every call before it gets here.
 */
import { type FakeFile, type FakeMessage, publicFile, publicMessage, type Workspace } from './workspace.ts';

export interface ApiContext {
  readonly ws: Workspace;
  origin: string;
  /** Where files.getUploadURLExternal points uploads: another host, as on real Slack. */
  uploadOrigin: string;
  readonly botUserId: string;
  readonly pendingUploads: Map<string, { filename: string; length: number; data?: Buffer }>;
  readonly views: Map<string, Record<string, unknown>>;
  readonly triggers: Map<string, { issuedAt: number; used: boolean }>;
  readonly issueSocketUrl: () => string;
}

export type Args = Record<string, unknown>;
type Method = (ctx: ApiContext, args: Args) => Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function postMessage(ctx: ApiContext, args: Args): Record<string, unknown> {
  const channel = str(args.channel);
  if (!channel) return { ok: false, error: 'channel_not_found' };
  if (ctx.ws.outside.has(channel)) return { ok: false, error: 'not_in_channel' };
  if (!str(args.text) && !Array.isArray(args.blocks)) return { ok: false, error: 'no_text' };
  const msg = ctx.ws.post({
    channel,
    user: ctx.botUserId,
    text: str(args.text) ?? '',
    thread_ts: str(args.thread_ts),
    blocks: args.blocks as unknown[] | undefined,
  });
  return { ok: true, channel, ts: msg.ts, message: publicMessage(msg) };
}

function update(ctx: ApiContext, args: Args): Record<string, unknown> {
  const channel = str(args.channel) ?? '';
  const msg = ctx.ws.find(channel, str(args.ts) ?? '');
  if (!msg) return { ok: false, error: 'message_not_found' };
  if (msg.user !== ctx.botUserId) return { ok: false, error: 'cant_update_message' };
  if (args.text !== undefined) msg.text = String(args.text);
  if (args.blocks !== undefined) msg.blocks = args.blocks as unknown[];
  return { ok: true, channel, ts: msg.ts, text: msg.text, message: publicMessage(msg) };
}

function remove(ctx: ApiContext, args: Args): Record<string, unknown> {
  const channel = str(args.channel) ?? '';
  const msg = ctx.ws.find(channel, str(args.ts) ?? '');
  if (!msg) return { ok: false, error: 'message_not_found' };
  msg.deleted = true;
  return { ok: true, channel, ts: msg.ts };
}

function viewsOpen(ctx: ApiContext, args: Args): Record<string, unknown> {
  const trigger = ctx.triggers.get(str(args.trigger_id) ?? '');
  if (!trigger || trigger.used || Date.now() - trigger.issuedAt > 3_000)
    return { ok: false, error: 'expired_trigger_id' };
  trigger.used = true;
  const view = args.view as Record<string, unknown> | undefined;
  if (view?.type !== 'modal') return { ok: false, error: 'invalid_arguments' };
  const pm = str(view.private_metadata) ?? '';
  if (pm.length > 3000)
    return {
      ok: false,
      error: 'invalid_arguments',
      response_metadata: { messages: ['private_metadata too long'] },
    };
  const id = ctx.ws.nextId('V');
  const stored = {
    ...view,
    id,
    team_id: ctx.ws.teamId,
    state: { values: {} },
    hash: `${id}.hash`,
    private_metadata: pm,
  };
  ctx.views.set(id, stored);
  return { ok: true, view: stored };
}

function filesInfo(ctx: ApiContext, args: Args): Record<string, unknown> {
  const file = ctx.ws.files.get(str(args.file) ?? '');
  return file ? { ok: true, file: publicFile(file) } : { ok: false, error: 'file_not_found' };
}

function getUploadUrl(ctx: ApiContext, args: Args): Record<string, unknown> {
  const filename = str(args.filename);
  const length = Number(args.length);
  if (!filename || !Number.isInteger(length) || length <= 0) return { ok: false, error: 'invalid_arguments' };
  const file_id = ctx.ws.nextId('F');
  ctx.pendingUploads.set(file_id, { filename, length });
  return { ok: true, file_id, upload_url: `${ctx.uploadOrigin}/upload/v1/${file_id}` };
}

function completeUpload(ctx: ApiContext, args: Args): Record<string, unknown> {
  const list = (Array.isArray(args.files) ? args.files : []) as Array<{ id: string; title?: string }>;
  const done: FakeFile[] = [];
  for (const { id, title } of list) {
    const pending = ctx.pendingUploads.get(id);
    if (!pending?.data) return { ok: false, error: 'file_not_found' };
    ctx.pendingUploads.delete(id);
    const ext = pending.filename.split('.').pop() ?? 'bin';
    const file: FakeFile = {
      id,
      name: pending.filename,
      title: title ?? pending.filename,
      mimetype: ext === 'mp4' ? 'video/mp4' : ext === 'gif' ? 'image/gif' : 'application/octet-stream',
      filetype: ext,
      size: pending.data.length,
      url_private: `${ctx.origin}/files-pri/${ctx.ws.teamId}-${id}/${pending.filename}`,
      url_private_download: `${ctx.origin}/files-pri/${ctx.ws.teamId}-${id}/download/${pending.filename}`,
      user: ctx.botUserId,
      data: pending.data,
      channel: str(args.channel_id),
      thread_ts: str(args.thread_ts),
      initial_comment: str(args.initial_comment),
    };
    ctx.ws.files.set(id, file);
    done.push(file);
  }
  // Without channel_id the files stay private and never show up anywhere.
  const channel = str(args.channel_id);
  if (channel && ctx.ws.outside.has(channel)) return { ok: false, error: 'not_in_channel' };
  if (channel) {
    ctx.ws.post({
      channel,
      user: ctx.botUserId,
      text: str(args.initial_comment) ?? '',
      thread_ts: str(args.thread_ts),
      files: done,
    });
  }
  return { ok: true, files: done.map(publicFile) };
}

function filesDelete(ctx: ApiContext, args: Args): Record<string, unknown> {
  const id = str(args.file) ?? '';
  if (!ctx.ws.files.delete(id)) return { ok: false, error: 'file_not_found' };
  for (const m of ctx.ws.messages)
    if (m.files?.some((f) => f.id === id)) m.files = m.files.filter((f) => f.id !== id);
  return { ok: true };
}

function replies(ctx: ApiContext, args: Args): Record<string, unknown> {
  const found: FakeMessage[] = ctx.ws.replies(str(args.channel) ?? '', str(args.ts) ?? '');
  if (found.length === 0) return { ok: false, error: 'thread_not_found' };
  return { ok: true, messages: found.map(publicMessage), has_more: false };
}

export const METHODS: Readonly<Record<string, Method>> = {
  'auth.test': (ctx) => ({
    ok: true,
    url: `${ctx.origin}/`,
    team: 'Fake Team',
    user: 'stillmotion',
    team_id: ctx.ws.teamId,
    user_id: ctx.botUserId,
    bot_id: 'B0STILL',
    is_enterprise_install: false,
  }),
  'apps.connections.open': (ctx) => ({ ok: true, url: ctx.issueSocketUrl() }),
  'views.open': viewsOpen,
  'chat.postMessage': postMessage,
  'chat.postEphemeral': (ctx, args) => {
    const channel = str(args.channel);
    if (!channel || !str(args.user)) return { ok: false, error: 'channel_not_found' };
    if (ctx.ws.outside.has(channel)) return { ok: false, error: 'not_in_channel' };
    return { ok: true, message_ts: ctx.ws.nextTs() };
  },
  'chat.update': update,
  'chat.delete': remove,
  'conversations.replies': replies,
  'files.info': filesInfo,
  'files.getUploadURLExternal': getUploadUrl,
  'files.completeUploadExternal': completeUpload,
  'files.delete': filesDelete,
};
