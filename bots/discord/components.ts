/**
 * The buttons: Cancel on a waiting or running job's status message; Reroll, More motion, Less
 * motion and Delete on a result. Custom ids are `sm:<action>:<jobId>`.
 */
import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from 'discord.js';
import { MOTION_STEP, nextMotion } from '../../src/chat/render.ts';
import type { JobView } from '../../src/service/types.ts';

export const BUTTON_ACTIONS = ['cancel', 'reroll', 'more', 'less', 'delete'] as const;
export type ButtonAction = (typeof BUTTON_ACTIONS)[number];

export function buttonId(action: ButtonAction, jobId: string): string {
  return `sm:${action}:${jobId}`;
}

export function parseButtonId(customId: string): { action: ButtonAction; jobId: string } | undefined {
  const m = /^sm:([a-z]+):([\w-]{1,80})$/.exec(customId);
  if (!m || !(BUTTON_ACTIONS as readonly string[]).includes(m[1]!)) return undefined;
  return { action: m[1] as ButtonAction, jobId: m[2]! };
}

export function cancelRow(jobId: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(buttonId('cancel', jobId))
      .setLabel('Cancel')
      .setEmoji('✖️')
      .setStyle(ButtonStyle.Secondary),
  );
}

export function resultRow(job: Pick<JobView, 'id' | 'options'>): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(buttonId('reroll', job.id))
      .setLabel('Reroll')
      .setEmoji('🔁')
      .setStyle(ButtonStyle.Primary),
    new ButtonBuilder()
      .setCustomId(buttonId('more', job.id))
      .setLabel('More motion')
      .setEmoji('➕')
      .setStyle(ButtonStyle.Secondary)
      .setDisabled(nextMotion(job, MOTION_STEP) === null),
    new ButtonBuilder()
      .setCustomId(buttonId('less', job.id))
      .setLabel('Less motion')
      .setEmoji('➖')
      .setStyle(ButtonStyle.Secondary)
      .setDisabled(nextMotion(job, -MOTION_STEP) === null),
    new ButtonBuilder()
      .setCustomId(buttonId('delete', job.id))
      .setLabel('Delete')
      .setEmoji('🗑️')
      .setStyle(ButtonStyle.Danger),
  );
}
