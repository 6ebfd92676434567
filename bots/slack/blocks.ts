/**
 * Block Kit for the status message: progress text with ✖ Cancel while the job waits or runs, then
 * the caption with 🔁 Reroll, ➕/➖ motion and 🗑 Delete. Button values carry the job id (and, for
 * Delete, the uploaded file id) so they work after a restart too. User text (prompt, note, errors)
 * is escaped for mrkdwn.
 */
import type { types } from '@slack/bolt';
import { MOTION_STEP, nextMotion, renderCaption, renderProgress } from '../../src/chat/index.ts';
import type { JobView } from '../../src/service/types.ts';
import { mrkdwn } from './mrkdwn.ts';

type KnownBlock = types.KnownBlock;

export const ACTION = {
  cancel: 'stillmotion_cancel',
  reroll: 'stillmotion_reroll',
  more: 'stillmotion_more_motion',
  less: 'stillmotion_less_motion',
  delete: 'stillmotion_delete',
} as const;

export type ActionName = keyof typeof ACTION;

const section = (text: string): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text } });

function button(action: ActionName, text: string, value: string, style?: 'danger' | 'primary') {
  return {
    type: 'button' as const,
    action_id: ACTION[action],
    text: { type: 'plain_text' as const, text, emoji: true },
    value,
    ...(style ? { style } : {}),
  };
}

/** Who asked, and a note (several pictures, random weights) above the progress line. */
export interface StatusExtras {
  readonly user: string;
  /** Plain text (it may name the user's file): escaped here. */
  readonly note?: string;
}

function header(extras: StatusExtras): string {
  return `<@${extras.user}> asked for an animation.${extras.note ? `\n${mrkdwn(extras.note)}` : ''}`;
}

/** Before the job is accepted. */
export function submittingBlocks(extras: StatusExtras): { text: string; blocks: KnownBlock[] } {
  const text = '⏳ Sending the picture to the GPU…';
  return { text, blocks: [section(header(extras)), section(text)] };
}

/** While the job waits or runs: the progress line and ✖ Cancel. */
export function progressBlocks(job: JobView, extras: StatusExtras, progress = renderProgress(job, mrkdwn)) {
  return {
    text: progress,
    blocks: [
      section(header(extras)),
      section(progress),
      {
        type: 'actions',
        block_id: 'stillmotion_progress',
        elements: [button('cancel', '✖ Cancel', job.id, 'danger')],
      },
    ] as KnownBlock[],
  };
}

/** After success: the caption and the buttons. More/Less motion are left out where they would leave 1–255. */
export function resultBlocks(job: JobView, extras: StatusExtras, uploadedFileId: string | undefined) {
  const caption = renderCaption(job, mrkdwn);
  const elements = [button('reroll', '🔁 Reroll', job.id)];
  if (nextMotion(job, MOTION_STEP) !== null) elements.push(button('more', '➕ More motion', job.id));
  if (nextMotion(job, -MOTION_STEP) !== null) elements.push(button('less', '➖ Less motion', job.id));
  elements.push(
    button('delete', '🗑 Delete', uploadedFileId ? `${job.id}:${uploadedFileId}` : job.id, 'danger'),
  );
  const text = `✅ Done: the video is in the thread.\n${caption}`;
  return {
    text,
    blocks: [
      section(header(extras)),
      section(text),
      { type: 'actions', block_id: 'stillmotion_result', elements },
    ] as KnownBlock[],
  };
}

/** Failed or canceled: the final line, no buttons (a failed job can be rerolled). */
export function endedBlocks(job: JobView, extras: StatusExtras) {
  const text = renderProgress(job, mrkdwn);
  const blocks: KnownBlock[] = [section(header(extras)), section(text)];
  if (job.state === 'failed') {
    blocks.push({
      type: 'actions',
      block_id: 'stillmotion_failed',
      elements: [button('reroll', '🔁 Try again', job.id)],
    });
  }
  return { text, blocks };
}

export function noticeBlocks(text: string) {
  return { text, blocks: [section(text)] as KnownBlock[] };
}

export function deletedBlocks(by: string) {
  return noticeBlocks(`🗑 Deleted by <@${by}>.`);
}
