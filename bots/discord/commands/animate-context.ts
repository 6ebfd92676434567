/** Message context menu "Animate": the same job as /animate on the message's picture, with defaults. */
import { ApplicationCommandType, ContextMenuCommandBuilder } from 'discord.js';
import { DownloadError } from '../../../src/chat/download.ts';
import { beginInteractionJob } from '../begin.ts';
import type { MessageCommand } from '../context.ts';
import { imagesOfMessage } from '../image-source.ts';

export const animateContext = {
  data: new ContextMenuCommandBuilder().setName('Animate').setType(ApplicationCommandType.Message),
  async execute(interaction, ctx) {
    const { images, others } = imagesOfMessage(interaction.targetMessage);
    if (images.length === 0) {
      throw new DownloadError(
        'not_image',
        others.length > 0
          ? `"${others[0]!.name}" is ${others[0]!.contentType ?? 'not a picture'}`
          : 'that message has no picture',
      );
    }
    const note =
      images.length > 1 ? `That message has ${images.length} pictures: I used the first.` : undefined;
    await beginInteractionJob(ctx, interaction, { ref: images[0]!, options: {}, note });
  },
} satisfies MessageCommand;
