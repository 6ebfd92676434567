/**
 * `npm run discord:register`: registers /animate, /queue, /jobs and the "Animate" message command,
 * to DISCORD_GUILD_ID (instant) or globally, then prints the invite URL with the exact scopes and
 * permissions the bot needs. Uses DISCORD_API_URL like the bot (a bare REST would call discord.com).
 */
import { fileURLToPath } from 'node:url';
import { loadModelInfo } from '@stillmotion/engine';
import {
  type PermissionFlagsBits,
  PermissionsBitField,
  REST,
  type RESTGetCurrentApplicationResult,
  type RESTPutAPIApplicationCommandsResult,
  Routes,
} from 'discord.js';
import { buildAnimateCommand } from './commands/animate.ts';
import { animateContext } from './commands/animate-context.ts';
import { jobs } from './commands/jobs.ts';
import { queue } from './commands/queue.ts';
import { discordConfigFromEnv } from './config.ts';
import type { BotModel } from './context.ts';

/** Channel permissions the bot uses, and why. */
export const BOT_PERMISSIONS = {
  ViewChannel: 'see the channels where it is used',
  SendMessages: 'reply to mentions and post results where the interaction token has expired',
  SendMessagesInThreads: 'post progress and results in threads',
  CreatePublicThreads: 'open a thread on its reply for each result',
  AttachFiles: 'upload the MP4',
  ReadMessageHistory: 'read the message a mention replies to, and reply to it',
} as const satisfies Partial<Record<keyof typeof PermissionFlagsBits, string>>;

export const SCOPES = ['bot', 'applications.commands'] as const;

export function permissionBits(): bigint {
  return new PermissionsBitField(Object.keys(BOT_PERMISSIONS) as (keyof typeof PermissionFlagsBits)[])
    .bitfield;
}

export function inviteUrl(appId: string): string {
  const params = new URLSearchParams({
    client_id: appId,
    scope: SCOPES.join(' '),
    permissions: permissionBits().toString(),
  });
  return `https://discord.com/oauth2/authorize?${params}`;
}

export function commandPayload(model?: BotModel): unknown[] {
  return [
    buildAnimateCommand(model).toJSON(),
    queue.data.toJSON(),
    jobs.data.toJSON(),
    animateContext.data.toJSON(),
  ];
}

export async function register(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ appId: string; count: number; url: string }> {
  const config = discordConfigFromEnv(env);
  const rest = new REST({ api: config.apiUrl }).setToken(config.token);
  const appId =
    env.DISCORD_APP_ID?.trim() ||
    ((await rest.get(Routes.currentApplication())) as RESTGetCurrentApplicationResult).id;
  let model: BotModel | undefined;
  try {
    model = loadModelInfo(env.SVD_MODEL_DIR || undefined);
  } catch (err) {
    process.stderr.write(`warning: ${(err as Error).message}; using the default frame limit\n`);
  }
  const guild = env.DISCORD_GUILD_ID?.trim();
  const route = guild ? Routes.applicationGuildCommands(appId, guild) : Routes.applicationCommands(appId);
  const result = (await rest.put(route, {
    body: commandPayload(model),
  })) as RESTPutAPIApplicationCommandsResult;
  return { appId, count: result.length, url: inviteUrl(appId) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const guild = process.env.DISCORD_GUILD_ID?.trim();
  register().then(
    ({ count, url }) => {
      process.stderr.write(
        `registered ${count} commands ${guild ? `in guild ${guild}` : 'globally (may take up to an hour to appear)'}\n`,
      );
      process.stderr.write(
        `scopes: ${SCOPES.join(', ')}; permissions: ${Object.keys(BOT_PERMISSIONS).join(', ')}\n`,
      );
      process.stdout.write(`${url}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`discord:register failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
