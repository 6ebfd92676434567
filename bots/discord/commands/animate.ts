/** `/animate image:<attachment> [prompt] [motion] … [help]`: the main command. */
import { MessageFlags, SlashCommandBuilder, type SlashCommandOptionsOnlyBuilder } from 'discord.js';
import { helpText } from '../../../src/chat/help-text.ts';
import { beginInteractionJob } from '../begin.ts';
import type { BotContext, SlashCommand } from '../context.ts';
import { refOfAttachment } from '../image-source.ts';
import { addAnimateOptions, autocompletes, readAnimateOptions, suggest } from '../option-builder.ts';

export function helpFor(ctx: BotContext): string {
  return helpText(ctx.model, {
    usage:
      'Use `/animate` with a picture, right-click a message with a picture → Apps → Animate, or reply to a picture and mention me',
    note: ctx.model?.randomWeights
      ? '⚠️ This bot runs the bundled tiny test model: its videos look like noise.'
      : undefined,
  });
}

export function buildAnimateCommand(model?: BotContext['model']): SlashCommandOptionsOnlyBuilder {
  const builder = new SlashCommandBuilder()
    .setName('animate')
    .setDescription('Turn a picture into a short video')
    .addAttachmentOption((o) =>
      o.setName('image').setDescription('the picture to animate (PNG, JPEG, WebP, GIF, AVIF)'),
    );
  return addAnimateOptions(builder, model).addBooleanOption((o) =>
    o.setName('help').setDescription('list every option with its range and default'),
  );
}

export const animate = {
  data: buildAnimateCommand(),
  async execute(interaction, ctx) {
    const attachment = interaction.options.getAttachment('image');
    const prompt = interaction.options.getString('prompt')?.trim().toLowerCase();
    if (interaction.options.getBoolean('help') || prompt === 'help' || !attachment) {
      const lead =
        attachment || interaction.options.getBoolean('help') || prompt === 'help'
          ? ''
          : 'Attach a picture with the `image` option.\n';
      await interaction.reply({ content: lead + helpFor(ctx), flags: MessageFlags.Ephemeral });
      return;
    }
    await beginInteractionJob(ctx, interaction, {
      ref: refOfAttachment(attachment),
      options: readAnimateOptions(interaction),
    });
  },
  async autocomplete(interaction) {
    const focused = interaction.options.getFocused(true);
    await interaction.respond(
      autocompletes(focused.name) ? suggest(focused.name, String(focused.value)) : [],
    );
  },
} satisfies SlashCommand;
