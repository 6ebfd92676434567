/**
 * One job from submit to delivery: submit with a delivery target, edit the status message as the
 * job moves (throttled to one edit per 1.5 s), then deliver. Submission errors are thrown to the
 * caller (which answers the user); everything after runs in the background and always ends in a
 * message the user sees.
 */

import type { AnimateOptionsInput } from '@stillmotion/engine';
import { Routes } from 'discord.js';
import { PreviewPacer } from '../../src/chat/chat-preview.ts';
import { renderProgress } from '../../src/chat/render.ts';
import { userError } from '../../src/chat/user-error.ts';
import { watchJob } from '../../src/chat/watch-job.ts';
import type { JobView } from '../../src/service/types.ts';
import { cancelRow } from './components.ts';
import { type BotContext, userIdOf } from './context.ts';
import { type DiscordDelivery, deliver } from './deliver.ts';
import { safeErr } from './log-safe.ts';
import { escapeDiscord } from './message-text.ts';
import type { StatusSurface } from './surface.ts';

export interface Place {
  readonly channelId: string;
  readonly guildId: string | null;
  readonly inThread: boolean;
  readonly dm: boolean;
}

export interface JobStart {
  readonly image: Buffer;
  readonly source?: string;
  readonly options: AnimateOptionsInput;
  /** The Discord user id (not namespaced). */
  readonly userId: string;
  readonly place: Place;
  readonly surface: StatusSurface;
  /** Shown above the progress, e.g. "Several pictures: I used the first." */
  readonly note?: string;
  readonly statusMessageId?: string;
}

function finalText(job: JobView, note: string | undefined, place: Place): string {
  const head = note ? `${note}\n` : '';
  if (job.state === 'succeeded') {
    return `${head}✅ Done: the video is ${place.dm ? 'below' : place.inThread ? 'below in this thread' : 'in the thread'}.`;
  }
  if (job.state === 'failed')
    return `${head}❌ Failed: ${escapeDiscord(job.error ?? 'unknown error')}. Try again, perhaps with fewer frames.`;
  return `${head}${renderProgress(job, escapeDiscord)}`;
}

/** Submits the job (throws ServiceError/OptionError to the caller), then follows it in the background. */
export async function startJob(ctx: BotContext, start: JobStart): Promise<{ id: string }> {
  const delivery: DiscordDelivery = {
    platform: 'discord',
    channelId: start.place.channelId,
    guildId: start.place.guildId,
    userId: start.userId,
    inThread: start.place.inThread,
    dm: start.place.dm,
    uploadLimit: start.surface.uploadLimit,
    ...(start.source ? { source: start.source } : {}),
    ...(start.statusMessageId ? { statusMessageId: start.statusMessageId } : {}),
  };
  const { id } = await ctx.service.submit({
    image: start.image,
    options: start.options,
    user: userIdOf(start.userId),
    delivery,
  });
  ctx.images.set(id, start.image);
  ctx.active.add(id);
  ctx.logger.info(
    { jobId: id, user: userIdOf(start.userId), channelId: start.place.channelId },
    'job submitted',
  );
  track(ctx, follow(ctx, id, delivery, start));
  return { id };
}

/** Keeps a background flow's promise until it settles; its errors are already handled. */
export function track(ctx: BotContext, flow: Promise<unknown>): void {
  ctx.flows.add(flow);
  void flow.finally(() => ctx.flows.delete(flow));
}

async function follow(
  ctx: BotContext,
  id: string,
  delivery: DiscordDelivery,
  start: JobStart,
): Promise<void> {
  const log = ctx.logger.child({ jobId: id });
  const head = start.note ? `${start.note}\n` : '';
  const previews = ctx.config.previewInChat ? new PreviewPacer(ctx.service) : undefined;
  try {
    const { job, edits } = await watchJob(ctx.service, id, {
      escape: escapeDiscord,
      intervalMs: ctx.config.editIntervalMs,
      show: async (text, current) => {
        const live = current.state === 'queued' || current.state === 'running';
        const image = live ? await previews?.next(current) : previews?.shown ? null : undefined;
        await start.surface.edit(live ? `${head}${text}` : text, live ? [cancelRow(id)] : [], image);
      },
      showFinal: (job) => finalText(job, start.note, start.place),
      onError: (err) => log.warn({ err: String(err) }, 'progress edit failed'),
    }).catch(async (err) => {
      // The final edit failed (e.g. the token died): the job itself is done, carry on delivering.
      log.warn({ err: String(err) }, 'final status edit failed');
      const job = await ctx.service.get(id);
      if (!job) throw err;
      return { job, edits: -1 };
    });
    log.info({ state: job.state, edits }, 'job finished');
    await deliver(ctx, job, delivery, start.surface);
  } catch (err) {
    const { text, expected } = userError(err, escapeDiscord);
    log[expected ? 'warn' : 'error']({ err: safeErr(err) }, 'delivery failed');
    await tellUser(ctx, delivery, start.surface, text).catch((e) =>
      log.error({ err: safeErr(e) }, 'could not tell the user that delivery failed'),
    );
  } finally {
    ctx.active.delete(id);
  }
}

async function tellUser(
  ctx: BotContext,
  delivery: DiscordDelivery,
  surface: StatusSurface,
  text: string,
): Promise<void> {
  if (surface.alive()) {
    await surface.followUp({ content: text });
    return;
  }
  await ctx.client.rest.post(Routes.channelMessages(delivery.channelId), {
    body: { content: `<@${delivery.userId}> ${text}`, allowed_mentions: { users: [delivery.userId] } },
  });
}
