/**
 * The result and status buttons. Only the job's owner or an admin of the job's own guild (or an
 * owner of the bot) may press them; anyone else gets an ephemeral refusal.
 * - Cancel: cancels a waiting or running job (the status message then says so).
 * - Reroll: the same picture and options with a new seed.
 * - More / Less motion: motion ±50 with the same seed (disabled outside 1–255).
 * - Delete: removes the result message and the stored result.
 */

import { type ButtonInteraction, MessageFlags } from 'discord.js';
import { downloadImage } from '../../src/chat/download.ts';
import { followUpOptions, type Presser, pressedJob } from '../../src/chat/follow-up.ts';
import { Refusal } from '../../src/chat/refusal.ts';
import type { JobView } from '../../src/service/types.ts';
import { beginInteractionJob } from './begin.ts';
import { parseButtonId } from './components.ts';
import { type BotContext, userIdOf } from './context.ts';
import { isDiscordDelivery } from './deliver.ts';
import { guildOfJob, isAdminOfJob } from './permissions.ts';

function pressedBy(interaction: ButtonInteraction, ctx: BotContext): Presser {
  return {
    user: userIdOf(interaction.user.id),
    // Rights are checked against the job's guild, not the guild the button was clicked in.
    isAdmin: (job) => isAdminOfJob(interaction, ctx.config, job),
    owner: (job) => `<@${job.user.replace(/^discord:/, '')}>`,
    onRefused: (job) =>
      ctx.logger.info(
        {
          jobId: job.id,
          user: userIdOf(interaction.user.id),
          guild: interaction.guildId,
          jobGuild: guildOfJob(job),
          action: interaction.customId,
        },
        'button refused',
      ),
  };
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
  const { job, actor } = await pressedJob(ctx.service, jobId, pressedBy(interaction, ctx));
  if (actor.admin && job.user !== actor.user) {
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
      const options = followUpOptions(job, action);
      const image = await inputImage(ctx, job);
      await beginInteractionJob(ctx, interaction, {
        image,
        source: isDiscordDelivery(job.delivery) ? job.delivery.source : undefined,
        options,
      });
      return;
    }
  }
}
