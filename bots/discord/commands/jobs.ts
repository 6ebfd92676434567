/** `/jobs`: your own jobs, newest first, with Cancel on those that wait or run. */
import { ActionRowBuilder, type ButtonBuilder, MessageFlags, SlashCommandBuilder } from 'discord.js';
import { isFinished, renderProgress } from '../../../src/chat/render.ts';
import { cancelRow } from '../components.ts';
import { type SlashCommand, userIdOf } from '../context.ts';
import { escapeDiscord, fitLines } from '../message-text.ts';

export const jobs = {
  data: new SlashCommandBuilder().setName('jobs').setDescription('Your animation jobs, with Cancel'),
  async execute(interaction, ctx) {
    const list = [...(await ctx.service.list(userIdOf(interaction.user.id)))].sort(
      (a, b) => b.created_at - a.created_at,
    );
    if (list.length === 0) {
      await interaction.reply({
        content: 'You have no jobs. Start one with `/animate`.',
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
    await interaction.reply({ content: fitLines([], lines), components, flags: MessageFlags.Ephemeral });
  },
} satisfies SlashCommand;
