/**
 * The status message a job edits while it waits and runs. For interactions it is the deferred
 * reply, edited through the interaction webhook until the 15-minute token expires (or Discord
 * answers 401 / 50027 Invalid Webhook Token); for mentions it is the bot's own reply, edited with
 * the bot token.
 */
import {
  type ActionRowBuilder,
  AttachmentBuilder,
  type ButtonBuilder,
  DiscordAPIError,
  type Message,
  type MessageMentionOptions,
  type RepliableInteraction,
} from 'discord.js';
import type { DiscordConfig } from './config.ts';

/** What a follow-up carries: text, files and buttons. */
export interface FollowUpPayload {
  readonly content: string;
  readonly files?: AttachmentBuilder[];
  readonly components?: ActionRowBuilder<ButtonBuilder>[];
  readonly allowedMentions?: MessageMentionOptions;
}

export interface StatusSurface {
  /**
   * Edits the status message (no-op once the token is dead). `image`: replace its attachment with
   * this live preview; `null`: remove the attachment; absent: leave it.
   */
  edit(
    content: string,
    components: readonly ActionRowBuilder<ButtonBuilder>[],
    image?: Buffer | null,
  ): Promise<void>;
  /** Posts a message in place (same channel) through the same channel of communication. */
  followUp(payload: FollowUpPayload): Promise<void>;
  /** False once the interaction token has expired or was refused. */
  alive(): boolean;
  /** The status message's id once known. */
  messageId(): string | undefined;
  /** Largest upload this place takes, in bytes. */
  readonly uploadLimit: number;
}

/** The message edit fields that replace (or remove) the status message's preview image. */
function attachmentEdit(image: Buffer | null | undefined) {
  if (image === undefined) return {};
  return { attachments: [], files: image ? [new AttachmentBuilder(image, { name: 'preview.webp' })] : [] };
}

/** 401 or Discord's 50027 Invalid Webhook Token / 10015 Unknown Webhook: the interaction token is gone. */
export function isDeadToken(err: unknown): boolean {
  return err instanceof DiscordAPIError && (err.status === 401 || err.code === 50027 || err.code === 10015);
}

export function interactionSurface(interaction: RepliableInteraction, config: DiscordConfig): StatusSurface {
  let dead = false;
  let id: string | undefined;
  const alive = () => !dead && Date.now() - interaction.createdTimestamp < config.tokenLifetimeMs;
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (isDeadToken(err)) dead = true;
      throw err;
    }
  };
  return {
    uploadLimit: interaction.attachmentSizeLimit ?? config.defaultUploadLimit,
    alive,
    messageId: () => id,
    async edit(content, components, image) {
      if (!alive()) return;
      const message = await guard(() =>
        interaction.editReply({
          content,
          components: [...components],
          allowedMentions: { parse: [] },
          ...attachmentEdit(image),
        }),
      );
      id = message.id;
    },
    async followUp(payload) {
      await guard(() => interaction.followUp({ ...payload }));
    },
  };
}

export function messageSurface(status: Message, uploadLimit: number): StatusSurface {
  return {
    uploadLimit,
    alive: () => true,
    messageId: () => status.id,
    async edit(content, components, image) {
      await status.edit({
        content,
        components: [...components],
        allowedMentions: { parse: [] },
        ...attachmentEdit(image),
      });
    },
    async followUp(payload) {
      if (!status.channel.isSendable()) throw new Error(`cannot send in channel ${status.channelId}`);
      await status.channel.send({ ...payload });
    },
  };
}
