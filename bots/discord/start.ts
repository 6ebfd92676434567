/**
 * `startDiscord({ service, logger, config })`: connects the Discord adapter to a JobService
 * (in-process or through ENGINE_URL). The sidecar's main calls it when DISCORD_TOKEN is set.
 * Resolves once the gateway session is ready and deliveries owed from before a restart are
 * under way.
 */
import { Client, Events, GatewayIntentBits, Partials } from 'discord.js';
import type { Logger } from 'pino';
import { serviceModel } from '../../src/chat/service-model.ts';
import type { ResultLinks } from '../../src/service/result-links.ts';
import type { JobService } from '../../src/service/types.ts';
import { type DiscordConfig, discordConfigFromEnv } from './config.ts';
import type { BotContext, BotModel } from './context.ts';
import { dispatch } from './dispatcher.ts';
import { ImageCache } from './image-cache.ts';
import { track } from './job-flow.ts';
import { safeErr } from './log-safe.ts';
import { handleMessage } from './mentions.ts';
import { discordRecovery } from './recover.ts';

export interface StartDiscordOptions {
  readonly service: JobService;
  readonly logger: Logger;
  /**
   * The adapter's settings, or the sidecar's config (its `env` is read with
   * {@link discordConfigFromEnv}; its `maxUploadBytes` caps downloads). @default discordConfigFromEnv(process.env)
   */
  readonly config?:
    | DiscordConfig
    | {
        readonly env: Readonly<Record<string, string | undefined>>;
        readonly maxUploadBytes?: number;
      };
  /** Model defaults for help and early option checks; taken from `service.model` when it has one. */
  readonly model?: BotModel;
  /** Signed links for results too big to upload (PUBLIC_URL set). */
  readonly resultLinks?: ResultLinks;
  /** How often finished but undelivered jobs are looked for again. @default 30000 */
  readonly sweepMs?: number;
}

export interface DiscordBot {
  readonly client: Client;
  readonly context: BotContext;
  /** Waits for every job flow this bot follows (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Gateway intents: slash commands need only Guilds; mentions need the message ones. */
export const INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.DirectMessages,
] as const;

let rejectionGuard = false;

export async function startDiscord(options: StartDiscordOptions): Promise<DiscordBot> {
  const given = options.config;
  const config: DiscordConfig =
    given === undefined
      ? discordConfigFromEnv()
      : 'token' in given
        ? given
        : discordConfigFromEnv(given.env, { maxImageBytes: given.maxUploadBytes });
  const logger = options.logger.child({ adapter: 'discord' });
  const model = options.model ?? (await serviceModel(options.service, logger));
  const client = new Client({
    intents: [...INTENTS],
    partials: [Partials.Channel],
    rest: { api: config.apiUrl },
    allowedMentions: { parse: [], repliedUser: false },
  });
  const ctx: BotContext = {
    client,
    service: options.service,
    logger,
    config,
    model,
    images: new ImageCache(),
    active: new Set(),
    flows: new Set(),
    ...(options.resultLinks ? { resultLinks: options.resultLinks } : {}),
  };
  if (!rejectionGuard) {
    // A failed interaction must never take the process down.
    rejectionGuard = true;
    process.on('unhandledRejection', (reason) =>
      logger.error({ err: safeErr(reason) }, 'unhandled rejection'),
    );
  }
  client.on(Events.Error, (err) => logger.error({ err: safeErr(err) }, 'discord client error'));
  client.on(Events.Warn, (message) => logger.warn({ message }, 'discord client warning'));
  client.on(Events.InteractionCreate, (interaction) => track(ctx, dispatch(interaction, ctx)));
  client.on(Events.MessageCreate, (message) => track(ctx, handleMessage(message, ctx)));
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(config.token);
  await ready;
  logger.info({ user: client.user?.tag, app: client.application?.id }, 'discord ready');
  const recovery = discordRecovery(ctx, options.sweepMs);
  track(
    ctx,
    recovery.resume().then(
      (r) =>
        (r.delivered || r.followed) && logger.info(r, 'resumed Discord deliveries from before the restart'),
      (err: unknown) => logger.error({ err: safeErr(err) }, 'could not resume deliveries'),
    ),
  );
  // Deliveries that failed (Discord down, upload refused) are retried without waiting for a restart.
  recovery.start();
  return {
    client,
    context: ctx,
    async idle() {
      while (ctx.flows.size > 0) await Promise.allSettled([...ctx.flows]);
    },
    async stop() {
      recovery.stop();
      await client.destroy();
    },
  };
}
