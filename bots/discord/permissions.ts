/**
 * Who may do what (bots/discord/README.md, "Admin scope"). Checked on every use, whatever Discord's
 * command permissions say.
 * - A guild admin (Manage Server in that guild, or a role in DISCORD_ADMIN_ROLE_IDS) acts on that
 *   guild's jobs only, and only while asking from that guild. Anyone can invite a public bot to a
 *   guild of their own, so Manage Server somewhere says nothing about jobs elsewhere.
 * - Operators (DISCORD_OWNER_IDS, or admins of a guild in DISCORD_HOME_GUILD_IDS) also pause,
 *   resume, set limits and act on the whole queue.
 * - With DISCORD_GUILD_IDS set, only those guilds are served (DMs neither).
 */
import { type GuildMember, type Interaction, PermissionFlagsBits } from 'discord.js';
import type { JobView } from '../../src/service/types.ts';
import type { DiscordConfig } from './config.ts';
import { isDiscordDelivery } from './deliver.ts';

/** Manage Server, or an admin role, in the guild the interaction comes from. */
export function isGuildAdmin(interaction: Interaction, config: DiscordConfig): boolean {
  if (!interaction.inGuild()) return false;
  if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) return true;
  const member = interaction.member;
  if (!member || config.adminRoleIds.length === 0) return false;
  const roles = Array.isArray(member.roles) ? member.roles : [...(member as GuildMember).roles.cache.keys()];
  return roles.some((id) => config.adminRoleIds.includes(id));
}

/** One of the bot's operators: listed in DISCORD_OWNER_IDS, or an admin of a home guild asking from it. */
export function isOperator(interaction: Interaction, config: DiscordConfig): boolean {
  if (config.ownerIds.includes(interaction.user.id)) return true;
  const guildId = interaction.guildId;
  return guildId !== null && config.homeGuildIds.includes(guildId) && isGuildAdmin(interaction, config);
}

/** The guild a job was asked for in; null for DMs and for jobs from elsewhere (Slack, the web). */
export function guildOfJob(job: Pick<JobView, 'delivery'>): string | null {
  return isDiscordDelivery(job.delivery) ? job.delivery.guildId : null;
}

/**
 * Admin rights over one job: an owner (DISCORD_OWNER_IDS), or an admin of the job's own guild asking
 * from that guild. Not the guild the button happens to be clicked in.
 */
export function isAdminOfJob(
  interaction: Interaction,
  config: DiscordConfig,
  job: Pick<JobView, 'delivery'>,
): boolean {
  if (config.ownerIds.includes(interaction.user.id)) return true;
  const guildId = guildOfJob(job);
  return guildId !== null && interaction.guildId === guildId && isGuildAdmin(interaction, config);
}

/** False where DISCORD_GUILD_IDS is set and `guildId` (null: a DM) is not on it. */
export function isServedGuild(guildId: string | null, config: DiscordConfig): boolean {
  return config.guildIds.length === 0 || (guildId !== null && config.guildIds.includes(guildId));
}

export const NOT_SERVED = "I don't serve this server (or DMs): its operator limits me to some servers.";
