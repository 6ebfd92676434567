/**
 * Posts a finished job where its user will see it: in a thread on the status message, in the
 * thread it was asked in, or in place (DMs, or where no thread can be made). Once the interaction
 * token is gone (expired, refused with 401 / 50027, or a restart), the result is a normal channel
 * message that mentions the user. Every job ends with a message, then is marked delivered.
 */
import { AttachmentBuilder, DiscordAPIError, type RESTPostAPIChannelThreadsResult, Routes } from 'discord.js';
import { renderCaption } from '../../src/chat/render.ts';
import { fitUpload } from '../../src/chat/upload-fit.ts';
import { userError } from '../../src/chat/user-error.ts';
import type { DeliveryTarget, JobView } from '../../src/service/types.ts';
import { resultRow } from './components.ts';
import type { BotContext } from './context.ts';
import { escapeDiscord } from './message-text.ts';
import type { StatusSurface } from './surface.ts';

/** What the job journal keeps for a Discord job (no secrets: interaction tokens stay in memory). */
export interface DiscordDelivery extends DeliveryTarget {
  readonly platform: 'discord';
  readonly channelId: string;
  readonly guildId: string | null;
  readonly userId: string;
  /** The channel is itself a thread: post there. */
  readonly inThread: boolean;
  readonly dm: boolean;
  readonly uploadLimit: number;
  /** Where the picture came from (for Reroll after the cached copy is gone). */
  readonly source?: string;
  /** The status message, when known at submit time (mentions). */
  readonly statusMessageId?: string;
}

export function isDiscordDelivery(d: DeliveryTarget | undefined): d is DiscordDelivery {
  return d?.platform === 'discord' && typeof d.channelId === 'string' && typeof d.userId === 'string';
}

function threadName(job: JobView): string {
  const name = `🎞️ ${job.options.prompt || `seed ${job.seed}`}`;
  return name.length <= 100 ? name : `${name.slice(0, 99)}…`;
}

/** A thread on `messageId`, or the one already there (160004); undefined where none can be made. */
async function threadOn(
  ctx: BotContext,
  channelId: string,
  messageId: string,
  job: JobView,
): Promise<string | undefined> {
  try {
    const thread = (await ctx.client.rest.post(Routes.threads(channelId, messageId), {
      body: { name: threadName(job), auto_archive_duration: 1440 },
    })) as RESTPostAPIChannelThreadsResult;
    return thread.id;
  } catch (err) {
    // A thread started on a message has the message's id.
    if (err instanceof DiscordAPIError && err.code === 160004) return messageId;
    ctx.logger.info({ jobId: job.id, channelId, err: String(err) }, 'no thread: replying in place');
    return undefined;
  }
}

async function postInChannel(
  ctx: BotContext,
  channelId: string,
  userId: string,
  content: string,
  extra: { files?: { name: string; data: Buffer }[]; components?: unknown[] } = {},
): Promise<void> {
  await ctx.client.rest.post(Routes.channelMessages(channelId), {
    body: {
      content: `<@${userId}> ${content}`,
      allowed_mentions: { users: [userId] },
      components: extra.components ?? [],
    },
    files: extra.files,
  });
}

/** Delivers `job` (finished) to `target`; `surface` is the live status message, if any. */
export async function deliver(
  ctx: BotContext,
  job: JobView,
  target: DiscordDelivery,
  surface?: StatusSurface,
): Promise<void> {
  const log = ctx.logger.child({ jobId: job.id });
  const live = surface?.alive() ?? false;
  if (job.state !== 'succeeded') {
    // A live status message already shows the end state; otherwise say it in the channel.
    if (!live) {
      const text =
        job.state === 'canceled'
          ? `your job \`${job.id}\` was canceled.`
          : `your job \`${job.id}\` failed: ${escapeDiscord(job.error ?? 'unknown error')}. Try again, perhaps with fewer frames.`;
      await postInChannel(ctx, target.channelId, target.userId, text);
    }
    await ctx.service.markDelivered(job.id);
    return;
  }
  const video = await ctx.service.result(job.id);
  let fitted: Awaited<ReturnType<typeof fitUpload>>;
  try {
    fitted = await fitUpload(video, surface?.uploadLimit ?? target.uploadLimit, job.format, {
      tmpDir: ctx.config.tmpDir,
      links: ctx.resultLinks,
      jobId: job.id,
    });
  } catch (err) {
    const text = userError(err, escapeDiscord).text;
    if (live) await surface!.followUp({ content: text });
    else await postInChannel(ctx, target.channelId, target.userId, text);
    await ctx.service.markDelivered(job.id);
    log.warn({ err: String(err) }, 'result too large to upload');
    return;
  }
  const name = `stillmotion-${job.seed}.${job.format}`;
  const caption = [renderCaption(job, escapeDiscord), fitted.note].filter(Boolean).join('\n');
  // Too big even re-encoded: the signed link goes where the file would have.
  const files = fitted.kind === 'upload' ? [{ name, data: fitted.data }] : [];
  if (fitted.kind === 'link') log.info('too big to upload: posting a signed link');
  const components = [resultRow(job).toJSON()];
  const statusId = surface?.messageId() ?? target.statusMessageId;
  let channelId: string | undefined;
  if (target.inThread) channelId = target.channelId;
  else if (!target.dm && target.guildId && statusId)
    channelId = await threadOn(ctx, target.channelId, statusId, job);
  if (!channelId && live) {
    try {
      await surface!.followUp({
        content: caption,
        files: files.map((f) => new AttachmentBuilder(f.data, { name: f.name })),
        components: [resultRow(job)],
        allowedMentions: { parse: [] },
      });
      await ctx.service.markDelivered(job.id);
      log.info({ where: 'in place' }, 'delivered');
      return;
    } catch (err) {
      log.warn({ err: String(err) }, 'in-place reply failed; posting in the channel');
    }
  }
  await postInChannel(ctx, channelId ?? target.channelId, target.userId, caption, {
    files,
    components,
  });
  await ctx.service.markDelivered(job.id);
  log.info({ where: channelId ? 'thread' : 'channel' }, 'delivered');
}
