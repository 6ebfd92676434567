/**
 * The Discord adapter's settings, read once from the environment and validated. The token is only
 * ever passed to discord.js, never logged.
 */
import { parseHostList } from '../../src/chat/download.ts';

export interface DiscordConfig {
  /** Bot token (`DISCORD_TOKEN`). */
  readonly token: string;
  /** REST base without `/v10` (`DISCORD_API_URL`); discord.js finds the gateway through it. @default https://discord.com/api */
  readonly apiUrl: string;
  /** Roles whose members count as admins besides Manage Server (`DISCORD_ADMIN_ROLE_IDS`, comma list). */
  readonly adminRoleIds: readonly string[];
  /** Hosts pictures may be downloaded from (`ATTACHMENT_HOSTS`). */
  readonly attachmentHosts: readonly string[];
  /** Largest picture downloaded. @default 20 MiB (the job service's limit) */
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

export function discordConfigFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
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
  const adminRoleIds = (env.DISCORD_ADMIN_ROLE_IDS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of adminRoleIds) {
    if (!/^\d{5,25}$/.test(id))
      throw new DiscordConfigError(`DISCORD_ADMIN_ROLE_IDS: "${id}" is not a role id`);
  }
  return {
    token,
    apiUrl,
    adminRoleIds,
    attachmentHosts: parseHostList(env.ATTACHMENT_HOSTS),
    maxImageBytes: 20 * 1024 * 1024,
    downloadTimeoutMs: 15_000,
    editIntervalMs: 1500,
    defaultUploadLimit: 10 * 1024 * 1024,
    tokenLifetimeMs: 14 * 60 * 1000,
    previewInChat: env.PREVIEW_IN_CHAT === '1',
  };
}
