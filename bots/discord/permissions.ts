/**
 * Who may act on a job or the queue: the job's owner, or an admin: Manage Server in the guild, or a
 * role listed in DISCORD_ADMIN_ROLE_IDS. Checked on every use, whatever Discord's command
 * permissions say.
 */
import { type GuildMember, type Interaction, PermissionFlagsBits } from 'discord.js';
import type { DiscordConfig } from './config.ts';

export function isAdmin(interaction: Interaction, config: DiscordConfig): boolean {
  if (!interaction.inGuild()) return false;
  if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) return true;
  const member = interaction.member;
  if (!member || config.adminRoleIds.length === 0) return false;
  const roles = Array.isArray(member.roles) ? member.roles : [...(member as GuildMember).roles.cache.keys()];
  return roles.some((id) => config.adminRoleIds.includes(id));
}
