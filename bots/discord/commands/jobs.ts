/** `/jobs`: your own jobs, newest first, with Cancel on those that wait or run. */
import { ActionRowBuilder, type ButtonBuilder, MessageFlags, SlashCommandBuilder } from 'discord.js';
import { isFinished, renderProgress, renderQuota } from '../../../src/chat/render.ts';
import { cancelRow } from '../components.ts';
import { type SlashCommand, userIdOf } from '../context.ts';
import { escapeDiscord, fitLines } from '../message-text.ts';

export const jobs = {
  data: new SlashCommandBuilder().setName('jobs').setDescription('Your animation jobs, with Cancel'),
  async execute(interaction, ctx) {
    const user = userIdOf(interaction.user.id);
    const list = [...(await ctx.service.list(user))].sort((a, b) => b.created_at - a.created_at);
    // What is left of today's quotas (the guild is the one this command came from).
    const usage = await ctx.service
      .quotaLeft?.(user, interaction.guildId ? { guildId: interaction.guildId } : undefined)
      .catch(() => undefined);
    const quota = usage && renderQuota(usage);
    if (list.length === 0) {
      await interaction.reply({
        content: [quota, 'You have no jobs. Start one with `/animate`.'].filter(Boolean).join('\n'),
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    const shown = list.slice(0, 25);
    const lines = shown.map(
      (j) =>
        `\`${j.id}\` ${j.options.prompt ? `“${escapeDiscord(j.options.prompt.slice(0, 40))}” ` : ''}· ${renderProgress(j, escapeDiscord)}`,
    );
    const buttons = shown
      .filter((j) => !isFinished(j))
      .slice(0, 5)
      .map((j) => cancelRow(j.id).components[0]!.setLabel(`Cancel ${j.id.slice(0, 8)}`));
    const components =
      buttons.length > 0 ? [new ActionRowBuilder<ButtonBuilder>().addComponents(...buttons)] : [];
    await interaction.reply({
      content: fitLines(quota ? [quota] : [], lines),
      components,
      flags: MessageFlags.Ephemeral,
    });
  },
} satisfies SlashCommand;
