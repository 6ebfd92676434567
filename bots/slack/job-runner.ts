/**
 * One Slack job from picture to video: download the picture, post the status message, submit the
 * job, edit the status with `chat.update` (at most once per 1.5 s, through the shared throttle),
 * upload the video into the thread with files.uploadV2, then show the caption and the buttons.
 */
import { setTimeout } from 'node:timers/promises';
import type { webApi } from '@slack/bolt';
import type { AnimateOptionsInput } from '@stillmotion/engine';
import { halfwayStill } from '../../src/chat/chat-preview.ts';
import { isFinished, renderCaption, userError, watchJob } from '../../src/chat/index.ts';
import { fitUpload, UploadTooLargeError } from '../../src/chat/upload-fit.ts';
import { type JobView, ServiceError } from '../../src/service/types.ts';
import {
  endedBlocks,
  noticeBlocks,
  progressBlocks,
  resultBlocks,
  type StatusExtras,
  submittingBlocks,
} from './blocks.ts';
import { type SlackDeps, type SlackTarget, slackUserId } from './context.ts';
import { errorText } from './errors.ts';
import { mrkdwn } from './mrkdwn.ts';
import { downloadSlackImage, type SlackFile, uploadResult } from './slack-files.ts';

/** Slack's status message is edited at most once per this interval. */
const STATUS_EDIT_INTERVAL_MS = 1500;

type Client = webApi.WebClient;

export interface JobRequest {
  readonly team: string;
  readonly user: string;
  readonly channel: string;
  /** Thread to work in; undefined for /animate (the status message starts the thread). */
  readonly thread_ts: string | undefined;
  readonly file: SlackFile;
  readonly options: AnimateOptionsInput;
  /** Shown above the progress (e.g. "several pictures: used the first"). */
  readonly note?: string;
}

/** Where an error reply goes: only `user` sees it. */
export interface ReplyTo {
  readonly channel: string;
  readonly user: string;
  readonly thread_ts?: string;
}

/**
 * Tells the user what went wrong, ephemerally, and logs it (faults at error level). Where the bot
 * cannot post in the channel, the reply goes to the user's DM with the app instead.
 */
export async function replyError(deps: SlackDeps, client: Client, to: ReplyTo, err: unknown): Promise<void> {
  const { text, expected } = errorText(err);
  if (expected) deps.logger.info({ user: to.user, err: String(err) }, 'slack: refused');
  else deps.logger.error({ user: to.user, err }, 'slack: failed');
  try {
    await client.chat.postEphemeral({
      channel: to.channel,
      user: to.user,
      text,
      ...(to.thread_ts ? { thread_ts: to.thread_ts } : {}),
    });
  } catch (postErr) {
    deps.logger.warn(
      { user: to.user, err: String(postErr) },
      'slack: ephemeral reply failed; writing to the DM',
    );
    await client.chat.postMessage({ channel: to.user, text });
  }
}

/**
 * Downloads the picture, posts the status message and submits the job; the rest runs in the
 * background. Refusals throw (the caller answers ephemerally); a status already posted is removed.
 */
export async function launchJob(deps: SlackDeps, client: Client, req: JobRequest): Promise<string> {
  const image = await downloadSlackImage(deps.config, req.file);
  const extras: StatusExtras = { user: req.user, note: noteFor(deps, req.note) };
  const first = submittingBlocks(extras);
  const posted = await client.chat.postMessage({
    channel: req.channel,
    text: first.text,
    blocks: first.blocks,
    ...(req.thread_ts ? { thread_ts: req.thread_ts } : {}),
  });
  const status_ts = posted.ts!;
  const target: SlackTarget = {
    platform: 'slack',
    team: req.team,
    user: req.user,
    channel: req.channel,
    status_ts,
    thread_ts: req.thread_ts ?? status_ts,
    file_id: req.file.id,
  };
  let id: string;
  try {
    ({ id } = await deps.service.submit({
      image,
      options: req.options,
      user: slackUserId(req.team, req.user),
      delivery: { ...target },
    }));
  } catch (err) {
    await client.chat.delete({ channel: req.channel, ts: status_ts }).catch((e: unknown) => {
      deps.logger.warn({ err: e }, 'slack: could not remove the status message of a refused job');
    });
    throw err;
  }
  deps.logger.info(
    { job: id, user: slackUserId(req.team, req.user), channel: req.channel },
    'slack: job submitted',
  );
  follow(deps, client, id, target, extras);
  return id;
}

function noteFor(deps: SlackDeps, note: string | undefined): string | undefined {
  const parts = [
    note,
    deps.randomWeights
      ? '_The bundled tiny model has random weights: the video will look like noise._'
      : undefined,
  ];
  const text = parts.filter(Boolean).join('\n');
  return text || undefined;
}

/** Follows a job in the background until it is delivered; errors are logged, never thrown. */
export function follow(
  deps: SlackDeps,
  client: Client,
  id: string,
  target: SlackTarget,
  extras?: StatusExtras,
): void {
  if (deps.active.has(id)) return;
  deps.active.add(id);
  const shown: StatusExtras = extras ?? { user: target.user };
  const log = deps.logger.child({ job: id });
  // PREVIEW_IN_CHAT=1: one still of the live preview in the thread at about half-way (each image is an upload).
  let preview: 'wanted' | 'sending' | 'sent' = deps.config.previewInChat ? 'wanted' : 'sent';
  const sendPreview = async (job: JobView) => {
    if (preview !== 'wanted') return;
    preview = 'sending';
    const still = await halfwayStill(deps.service, job);
    if (!still) {
      preview = 'wanted';
      return;
    }
    await client.filesUploadV2({
      channel_id: target.channel,
      thread_ts: target.thread_ts,
      file: still,
      filename: 'preview.png',
      title: `Live preview after step ${job.progress.step} of ${job.progress.steps}`,
    });
    preview = 'sent';
  };
  watchJob(deps.service, id, {
    escape: mrkdwn,
    onView: (job) =>
      void sendPreview(job).catch((err: unknown) => {
        preview = 'sent';
        log.warn({ err }, 'slack: preview upload failed');
      }),
    intervalMs: STATUS_EDIT_INTERVAL_MS,
    show: async (_text, job) => {
      await client.chat.update({
        channel: target.channel,
        ts: target.status_ts,
        ...progressBlocks(job, shown),
      });
    },
    onError: (err) => log.warn({ err }, 'slack: progress edit failed'),
  })
    .then(async ({ job, edits, lastEditEndedAt }) => {
      log.info({ state: job.state, edits }, 'slack: job ended');
      // The result is one more edit of the status message: keep it 1.5 s after the last progress
      // edit finished, as the throttle spaces its own edits (counted from a start, a slow edit
      // in flight would bring the next one closer than that).
      const wait = lastEditEndedAt + STATUS_EDIT_INTERVAL_MS - Date.now();
      if (wait > 0) await setTimeout(wait);
      return deliver(deps, client, job, target, shown);
    })
    .catch((err: unknown) => log.error({ err }, 'slack: could not follow the job'))
    .finally(() => deps.active.delete(id));
}

/**
 * Posts a finished job where it belongs and marks it delivered: the video into the thread (with
 * the caption as its comment) and the buttons on the status message; or the failure/cancel line.
 */
/** The finished video, or undefined when it was deleted or expired (410) before it was posted. */
async function resultOrGone(deps: SlackDeps, id: string): Promise<Buffer | undefined> {
  try {
    return await deps.service.result(id);
  } catch (err) {
    if (err instanceof ServiceError && err.status === 410) return undefined;
    throw err;
  }
}

export async function deliver(
  deps: SlackDeps,
  client: Client,
  job: JobView,
  target: SlackTarget,
  extras?: StatusExtras,
): Promise<void> {
  const shown: StatusExtras = extras ?? { user: target.user };
  if (!isFinished(job) || job.delivered) return;
  const bytes = job.state === 'succeeded' ? await resultOrGone(deps, job.id) : undefined;
  if (job.state === 'succeeded' && bytes === undefined) {
    const notice = noticeBlocks('⌛ Done, but the video was deleted or expired before it could be posted.');
    await client.chat.update({ channel: target.channel, ts: target.status_ts, ...notice });
  } else if (bytes) {
    const comment = `<@${target.user}> ${renderCaption(job, mrkdwn)}`;
    const post = (text: string) =>
      client.chat.postMessage({ channel: target.channel, thread_ts: target.thread_ts, text });
    let fileId: string | undefined;
    try {
      const fitted = await fitUpload(bytes, deps.config.uploadLimit, job.format, {
        links: deps.resultLinks,
        jobId: job.id,
      });
      const text = [comment, fitted.note].filter(Boolean).join('\n');
      if (fitted.kind === 'upload') {
        fileId = await uploadResult(client, {
          channel: target.channel,
          thread_ts: target.thread_ts,
          bytes: fitted.data,
          filename: `stillmotion-${job.seed}.${job.format}`,
          title: job.options.prompt || `stillmotion seed ${job.seed}`,
          comment: text,
        });
      } else await post(text);
    } catch (err) {
      if (!(err instanceof UploadTooLargeError)) throw err;
      await post(`<@${target.user}> ${userError(err, mrkdwn).text}`);
    }
    await client.chat.update({
      channel: target.channel,
      ts: target.status_ts,
      ...resultBlocks(job, shown, fileId),
    });
  } else {
    await client.chat.update({ channel: target.channel, ts: target.status_ts, ...endedBlocks(job, shown) });
  }
  await deps.service.markDelivered(job.id);
  deps.logger.info({ job: job.id, state: job.state }, 'slack: delivered');
}
