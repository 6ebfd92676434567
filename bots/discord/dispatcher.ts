/**
 * The one place interactions are routed (only from the guilds served, DISCORD_GUILD_IDS), with the
 * try/catch that always answers the user:
 * an ephemeral reply if nothing was sent yet; after a public defer, the "thinking…" reply is
 * deleted first (a follow-up would otherwise be public); after a reply, an ephemeral follow-up.
 */
import { type Interaction, MessageFlags, type RepliableInteraction } from 'discord.js';
import { Refusal } from '../../src/chat/refusal.ts';
import { userError } from '../../src/chat/user-error.ts';
import { handleButton } from './buttons.ts';
import { messageCommands, slashCommands } from './commands/index.ts';
import type { BotContext } from './context.ts';
import { safeErr } from './log-safe.ts';
import { escapeDiscord } from './message-text.ts';
import { isServedGuild, NOT_SERVED } from './permissions.ts';
import { isDeadToken } from './surface.ts';

export async function dispatch(interaction: Interaction, ctx: BotContext): Promise<void> {
  const log = ctx.logger.child({ interaction: interaction.id, user: interaction.user.id });
  try {
    if (!isServedGuild(interaction.guildId, ctx.config)) throw new Refusal('guild_not_served', NOT_SERVED);
    if (interaction.isAutocomplete()) {
      const command = slashCommands.find((c) => c.data.name === interaction.commandName);
      await command?.autocomplete?.(interaction, ctx);
    } else if (interaction.isChatInputCommand()) {
      const command = slashCommands.find((c) => c.data.name === interaction.commandName);
      if (!command)
        throw new Refusal(
          'unknown_command',
          `I don't know /${interaction.commandName}; ask an admin to register commands again.`,
        );
      await command.execute(interaction, ctx);
    } else if (interaction.isMessageContextMenuCommand()) {
      const command = messageCommands.find((c) => c.data.name === interaction.commandName);
      if (!command) throw new Refusal('unknown_command', `I don't know "${interaction.commandName}".`);
      await command.execute(interaction, ctx);
    } else if (interaction.isButton()) {
      await handleButton(interaction, ctx);
    }
  } catch (err) {
    const text = err instanceof Refusal ? `🚫 ${err.message}` : userError(err, escapeDiscord).text;
    const expected = err instanceof Refusal || userError(err, escapeDiscord).expected;
    log[expected ? 'info' : 'error'](
      { err: expected ? String(err) : safeErr(err) },
      'interaction refused or failed',
    );
    if (interaction.isRepliable()) await answer(interaction, text, log);
    else if (interaction.isAutocomplete() && !interaction.responded) {
      await interaction.respond([]).catch((e) => log.warn({ err: String(e) }, 'autocomplete answer failed'));
    }
  }
}

async function answer(
  interaction: RepliableInteraction,
  text: string,
  log: BotContext['logger'],
): Promise<void> {
  const payload = { content: text, flags: MessageFlags.Ephemeral as const, allowedMentions: { parse: [] } };
  try {
    if (interaction.deferred && !interaction.replied && interaction.ephemeral) {
      await interaction.editReply({ content: text, allowedMentions: { parse: [] } });
    } else if (interaction.deferred && !interaction.replied) {
      await interaction.deleteReply();
      await interaction.followUp(payload);
    } else if (interaction.replied || interaction.deferred) {
      await interaction.followUp(payload);
    } else {
      await interaction.reply(payload);
    }
  } catch (err) {
    log[isDeadToken(err) ? 'warn' : 'error']({ err: String(err) }, 'could not answer the interaction');
  }
}
