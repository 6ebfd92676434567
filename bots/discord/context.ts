/** What every handler of the Discord adapter receives, and the shape of a command module. */
import type {
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  Client,
  ContextMenuCommandBuilder,
  MessageContextMenuCommandInteraction,
  RESTPostAPIApplicationCommandsJSONBody,
  SharedSlashCommand,
} from 'discord.js';
import type { Logger } from 'pino';
import type { ModelDefaults } from '../../src/chat/option-text.ts';
import type { ResultLinks } from '../../src/service/result-links.ts';
import type { JobService } from '../../src/service/types.ts';
import type { DiscordConfig } from './config.ts';
import type { ImageCache } from './image-cache.ts';

export interface BotModel extends ModelDefaults {
  readonly randomWeights?: boolean;
}

export interface BotContext {
  readonly client: Client;
  readonly service: JobService;
  readonly logger: Logger;
  readonly config: DiscordConfig;
  readonly model?: BotModel;
  /** Input pictures of recent jobs, for Reroll and More/Less motion. */
  readonly images: ImageCache;
  /** Jobs this process is watching or delivering, so none is delivered twice. */
  readonly active: Set<string>;
  /** Promises of running job flows (tests and shutdown wait on them). */
  readonly flows: Set<Promise<unknown>>;
  /** Signed links for results too big to upload (PUBLIC_URL set). */
  readonly resultLinks?: ResultLinks;
}

export interface SlashCommand {
  readonly data: SharedSlashCommand & { toJSON(): RESTPostAPIApplicationCommandsJSONBody };
  execute(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void>;
  autocomplete?(interaction: AutocompleteInteraction, ctx: BotContext): Promise<void>;
}

export interface MessageCommand {
  readonly data: ContextMenuCommandBuilder;
  execute(interaction: MessageContextMenuCommandInteraction, ctx: BotContext): Promise<void>;
}

/** `discord:<id>`: the namespaced user id used for caps, fairness and ownership. */
export function userIdOf(discordUserId: string): string {
  return `discord:${discordUserId}`;
}
