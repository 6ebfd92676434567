/**
 * The result and status buttons. Only the job's owner or an admin of the job's own guild (or an
 * owner of the bot) may press them; anyone else gets an ephemeral refusal.
 * - Cancel: cancels a waiting or running job (the status message then says so).
 * - Reroll: the same picture and options with a new seed.
 * - More / Less motion: motion ±50 with the same seed (disabled outside 1–255).
 * - Delete: removes the result message and the stored result.
 */

import { randomSeed } from '@stillmotion/engine';
import { type ButtonInteraction, MessageFlags } from 'discord.js';
import { downloadImage } from '../../src/chat/download.ts';
import { MOTION_STEP, nextMotion } from '../../src/chat/render.ts';
import { type JobView, ServiceError } from '../../src/service/types.ts';
import { beginInteractionJob } from './begin.ts';
import { parseButtonId } from './components.ts';
import { type BotContext, userIdOf } from './context.ts';
import { isDiscordDelivery } from './deliver.ts';
import { guildOfJob, isAdminOfJob } from './permissions.ts';
import { Refusal } from '../../src/chat/refusal.ts';

async function ownedJob(
  interaction: ButtonInteraction,
  ctx: BotContext,
  jobId: string,
): Promise<{ job: JobView; admin: boolean }> {
  const job = await ctx.service.get(jobId);
  if (!job) throw new ServiceError(404, 'not_found', `job ${jobId} not found`);
  // Rights are checked against the job's guild, not the guild the button was clicked in.
  const admin = isAdminOfJob(interaction, ctx.config, job);
  if (job.user !== userIdOf(interaction.user.id) && !admin) {
    ctx.logger.info(
      {
        jobId,
        user: userIdOf(interaction.user.id),
        guild: interaction.guildId,
        jobGuild: guildOfJob(job),
        action: interaction.customId,
      },
      'button refused',
    );
    throw new Refusal(
      'not_owner',
      `Only <@${job.user.replace(/^discord:/, '')}> or an admin can use these buttons.`,
    );
  }
  return { job, admin };
}

async function inputImage(ctx: BotContext, job: JobView): Promise<Buffer> {
  const cached = ctx.images.get(job.id);
  if (cached) return cached;
  const source = isDiscordDelivery(job.delivery) ? job.delivery.source : undefined;
  if (!source)
    throw new Refusal(
      'image_gone',
      'I no longer have the picture of that job. Start a new one with `/animate`.',
    );
  const { bytes } = await downloadImage(source, {
    allowedHosts: ctx.config.attachmentHosts,
    maxBytes: ctx.config.maxImageBytes,
    timeoutMs: ctx.config.downloadTimeoutMs,
  });
  return bytes;
}

export async function handleButton(interaction: ButtonInteraction, ctx: BotContext): Promise<void> {
  const parsed = parseButtonId(interaction.customId);
  if (!parsed) throw new Refusal('unknown_button', 'That button is no longer valid.');
  const { action, jobId } = parsed;
  const { job, admin } = await ownedJob(interaction, ctx, jobId);
  const actor = { user: userIdOf(interaction.user.id), admin };
  if (admin && job.user !== actor.user) {
    ctx.logger.info({ jobId, admin: actor.user, guild: interaction.guildId, action }, 'admin action');
  }
  switch (action) {
    case 'cancel': {
      // Canceling a running job waits for it to stop: acknowledge first.
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await ctx.service.cancel(jobId, actor);
      await interaction.editReply({ content: `✖️ Canceled job \`${jobId}\`.` });
      return;
    }
    case 'delete': {
      await ctx.service.deleteResult(jobId, actor);
      await interaction.message.delete();
      await interaction.reply({
        content: '🗑️ Deleted the video and its stored result.',
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    case 'reroll':
    case 'more':
    case 'less': {
      const motion =
        action === 'reroll'
          ? job.options.motion
          : nextMotion(job, action === 'more' ? MOTION_STEP : -MOTION_STEP);
      if (motion === null) throw new Refusal('motion_range', 'Motion would leave 1–255.');
      const o = job.options;
      const image = await inputImage(ctx, job);
      await beginInteractionJob(ctx, interaction, {
        image,
        source: isDiscordDelivery(job.delivery) ? job.delivery.source : undefined,
        // Every option as the job had it (loop, smooth, … included), with the new motion and seed.
        options: { ...o, motion, seed: action === 'reroll' ? newSeed(job.seed) : job.seed },
      });
      return;
    }
  }
}

function newSeed(old: number): number {
  let seed = randomSeed();
  while (seed === old) seed = randomSeed();
  return seed;
}
