/**
 * Starts a job from an interaction (slash command, context menu, Reroll/More/Less buttons):
 * check what can be checked before acknowledging (so refusals are ephemeral), defer within 3 s,
 * download, then hand over to the job flow.
 */
import { type AnimateOptionsInput, resolveOptions } from '@stillmotion/engine';
import { ChannelType, type RepliableInteraction } from 'discord.js';
import type { BotContext } from './context.ts';
import { fetchImage, type ImageRef, precheckImage } from './image-source.ts';
import { type Place, startJob } from './job-flow.ts';
import { interactionSurface } from './surface.ts';

export function placeOf(interaction: RepliableInteraction): Place {
  const channel = interaction.channel;
  return {
    channelId: interaction.channelId!,
    guildId: interaction.guildId,
    inThread: channel?.isThread() ?? false,
    dm: !interaction.inGuild() || channel?.type === ChannelType.DM || channel?.type === ChannelType.GroupDM,
  };
}

export interface InteractionJob {
  /** A picture to download, or one already in hand. */
  readonly ref?: ImageRef;
  readonly image?: Buffer;
  readonly source?: string;
  readonly options: AnimateOptionsInput;
  readonly note?: string;
}

export async function beginInteractionJob(
  ctx: BotContext,
  interaction: RepliableInteraction,
  job: InteractionJob,
): Promise<void> {
  if (ctx.model) resolveOptions(job.options, ctx.model);
  if (job.ref) precheckImage(job.ref, ctx.config);
  await interaction.deferReply();
  const image = job.image ?? (await fetchImage(job.ref!, ctx.config));
  await startJob(ctx, {
    image,
    source: job.source ?? job.ref?.url,
    options: job.options,
    userId: interaction.user.id,
    place: placeOf(interaction),
    surface: interactionSurface(interaction, ctx.config),
    note: job.note,
  });
}
