/**
 * Mentions: `@bot <prompt and --options>` on a message with a picture, or in reply to a message
 * with a picture (attachment or image embed). `@bot help` lists the options. Needs the Guild
 * Messages and Message Content intents. Messages cannot be answered ephemerally, so refusals are
 * replies to the user's message.
 */
import { ChannelType, type Message } from 'discord.js';
import { DownloadError } from '../../src/chat/download.ts';
import { parseChatText } from '../../src/chat/option-text.ts';
import { userError } from '../../src/chat/user-error.ts';
import { helpFor } from './commands/animate.ts';
import type { BotContext } from './context.ts';
import { fetchImage, imagesOfMessage, type MessageImages, precheckImage } from './image-source.ts';
import { startJob } from './job-flow.ts';
import { safeErr } from './log-safe.ts';
import { escapeDiscord } from './message-text.ts';
import { isServedGuild, NOT_SERVED } from './permissions.ts';
import { messageSurface } from './surface.ts';

/** The message text without mentions of the bot. */
export function stripBotMention(content: string, botId: string): string {
  return content.replace(new RegExp(`<@!?${botId}>`, 'g'), ' ').trim();
}

async function picturesFor(message: Message): Promise<MessageImages & { from: 'message' | 'reply' }> {
  const own = imagesOfMessage(message);
  if (own.images.length > 0 || !message.reference?.messageId) return { ...own, from: 'message' };
  const referenced = await message.fetchReference();
  const theirs = imagesOfMessage(referenced);
  return { images: theirs.images, others: [...own.others, ...theirs.others], from: 'reply' };
}

export async function handleMessage(message: Message, ctx: BotContext): Promise<void> {
  const me = ctx.client.user;
  // The mention must be in the text: a reply to the bot's own message "mentions" it through the reply ping.
  if (!me || message.author.bot || !new RegExp(`<@!?${me.id}>`).test(message.content)) return;
  const log = ctx.logger.child({ message: message.id, user: message.author.id });
  try {
    if (!isServedGuild(message.guildId, ctx.config)) {
      log.info({ guild: message.guildId }, 'mention from a guild not served');
      await message.reply({ content: NOT_SERVED, allowedMentions: { repliedUser: false } });
      return;
    }
    const text = stripBotMention(message.content, me.id);
    const parsed = parseChatText(text, ctx.model);
    if (parsed.help) {
      await message.reply({ content: helpFor(ctx), allowedMentions: { repliedUser: false } });
      return;
    }
    const { images, others } = await picturesFor(message);
    if (images.length === 0) {
      throw new DownloadError(
        'not_image',
        others.length > 0
          ? `"${others[0]!.name}" is ${others[0]!.contentType ?? 'not a picture'}`
          : 'attach a picture, or reply to a message with one, when you mention me',
      );
    }
    const ref = images[0]!;
    precheckImage(ref, ctx.config);
    const note = images.length > 1 ? `${images.length} pictures: I used the first.` : undefined;
    const image = await fetchImage(ref, ctx.config);
    const status = await message.reply({
      content: `${note ? `${note}\n` : ''}⏳ Queuing…`,
      allowedMentions: { repliedUser: false },
    });
    const channel = message.channel;
    try {
      const { id } = await startJob(ctx, {
        image,
        source: ref.url,
        options: parsed.options,
        userId: message.author.id,
        place: {
          channelId: message.channelId,
          guildId: message.guildId,
          inThread: channel.isThread(),
          dm: channel.type === ChannelType.DM || channel.type === ChannelType.GroupDM,
        },
        surface: messageSurface(status, ctx.config.defaultUploadLimit),
        note,
        statusMessageId: status.id,
      });
      log.info({ jobId: id }, 'mention job');
    } catch (err) {
      // The status message says why (the submission was refused).
      await status.edit({ content: userError(err, escapeDiscord).text, components: [] });
      log.info({ err: String(err) }, 'mention refused');
    }
  } catch (err) {
    const { text, expected } = userError(err, escapeDiscord, '`@me help`');
    log[expected ? 'info' : 'error'](
      { err: expected ? String(err) : safeErr(err) },
      'mention refused or failed',
    );
    await message
      .reply({ content: text, allowedMentions: { repliedUser: true } })
      .catch((e) => log.error({ err: safeErr(e) }, 'could not answer the mention'));
  }
}
