/**
 * The Discord adapter's settings, read once from the environment and validated. The token is only
 * ever passed to discord.js, never logged.
 */
import { DEFAULT_MAX_IMAGE_BYTES, parseHostList } from '../../src/chat/download.ts';

export interface DiscordConfig {
  /** Bot token (`DISCORD_TOKEN`). */
  readonly token: string;
  /** REST base without `/v10` (`DISCORD_API_URL`); discord.js finds the gateway through it. @default https://discord.com/api */
  readonly apiUrl: string;
  /** Roles whose members count as admins besides Manage Server (`DISCORD_ADMIN_ROLE_IDS`, comma list). */
  readonly adminRoleIds: readonly string[];
  /** The bot's operators (`DISCORD_OWNER_IDS`, user ids): pause, resume, limits and every job, from anywhere. */
  readonly ownerIds: readonly string[];
  /** Guilds whose admins are operators too (`DISCORD_HOME_GUILD_IDS`). */
  readonly homeGuildIds: readonly string[];
  /** Guilds the bot serves (`DISCORD_GUILD_IDS`); empty: every guild and DMs. */
  readonly guildIds: readonly string[];
  /** Hosts pictures may be downloaded from (`ATTACHMENT_HOSTS`). */
  readonly attachmentHosts: readonly string[];
  /** Largest picture downloaded, in bytes: the job service's upload limit (`MAX_UPLOAD_MB` × 10⁶). @default 20 000 000 */
  readonly maxImageBytes: number;
  /** Download timeout. @default 15000 */
  readonly downloadTimeoutMs: number;
  /** Minimum time between two progress edits of one job. @default 1500 */
  readonly editIntervalMs: number;
  /** Upload limit when the interaction gives none. @default 10 MiB */
  readonly defaultUploadLimit: number;
  /** Interaction tokens last 15 minutes; stop using one this long before. @default 14 min */
  readonly tokenLifetimeMs: number;
  /** Folder for re-encoded videos (temporary files). @default os.tmpdir() */
  readonly tmpDir?: string;
  /** PREVIEW_IN_CHAT=1: the status message carries the live preview, replaced at most every 5 s. @default false */
  readonly previewInChat?: boolean;
}

export class DiscordConfigError extends Error {
  override name = 'DiscordConfigError';
}

/** A comma list of Discord ids (snowflakes) from `name`; a bad entry is refused by name. */
function idList(env: Readonly<Record<string, string | undefined>>, name: string, what: string): string[] {
  const ids = (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of ids) {
    if (!/^\d{5,25}$/.test(id)) throw new DiscordConfigError(`${name}: "${id}" is not a ${what} id`);
  }
  return ids;
}

/**
 * Reads the adapter's settings from `env`. `maxImageBytes` is the job service's upload limit
 * (the sidecar's `maxUploadBytes`), so a picture the service would refuse is never downloaded.
 */
export function discordConfigFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  limits: { readonly maxImageBytes?: number } = {},
): DiscordConfig {
  const token = env.DISCORD_TOKEN?.trim();
  if (!token)
    throw new DiscordConfigError('DISCORD_TOKEN is not set: create a bot at https://discord.com/developers');
  const apiUrl = (env.DISCORD_API_URL?.trim() || 'https://discord.com/api').replace(/\/+$/, '');
  if (/\/v\d+$/.test(apiUrl)) {
    throw new DiscordConfigError(
      `DISCORD_API_URL must not end in a version (discord.js adds /v10): ${apiUrl}`,
    );
  }
  try {
    new URL(apiUrl);
  } catch {
    throw new DiscordConfigError(`DISCORD_API_URL is not a URL: ${apiUrl}`);
  }
  return {
    token,
    apiUrl,
    adminRoleIds: idList(env, 'DISCORD_ADMIN_ROLE_IDS', 'role'),
    ownerIds: idList(env, 'DISCORD_OWNER_IDS', 'user'),
    homeGuildIds: idList(env, 'DISCORD_HOME_GUILD_IDS', 'guild'),
    guildIds: idList(env, 'DISCORD_GUILD_IDS', 'guild'),
    attachmentHosts: parseHostList(env.ATTACHMENT_HOSTS),
    maxImageBytes: limits.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
    downloadTimeoutMs: 15_000,
    editIntervalMs: 1500,
    defaultUploadLimit: 10 * 1024 * 1024,
    tokenLifetimeMs: 14 * 60 * 1000,
    previewInChat: env.PREVIEW_IN_CHAT === '1',
  };
}
