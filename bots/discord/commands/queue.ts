/**
 * `/queue list|cancel|pause|resume|clear|limit|quota`: admins only. Registered with
 * default_member_permissions = Manage Server, and checked again on every use (an admin role from
 * DISCORD_ADMIN_ROLE_IDS also passes). A guild's admins list, cancel and clear that guild's jobs
 * only; `list` never shows other guilds' or Slack's users or prompts. Pause, resume, limits and the
 * whole queue belong to the operators (permissions.ts). Every action is logged with who did it.
 */
import {
  type ChatInputCommandInteraction,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type SlashCommandIntegerOption,
} from 'discord.js';
import { type AdminRequest, type AdminScope, runAdminAction } from '../../../src/chat/admin.ts';
import { Refusal } from '../../../src/chat/refusal.ts';
import { DAILY_QUOTA, PER_USER_LIMIT, type Range, rangeText } from '../../../src/service/admin-ranges.ts';
import { type BotContext, type SlashCommand, userIdOf } from '../context.ts';
import { fitLines } from '../message-text.ts';
import { guildOfJob, isGuildAdmin, isOperator } from '../permissions.ts';

/** An integer option within one of the shared admin ranges. */
function within(
  o: SlashCommandIntegerOption,
  range: Range,
  name: string,
  description: string,
  required = false,
): SlashCommandIntegerOption {
  return o
    .setName(name)
    .setDescription(description)
    .setRequired(required)
    .setMinValue(range.min)
    .setMaxValue(range.max);
}

/** Subcommands that act on the whole queue, for operators only. */
const QUEUE_WIDE = new Set(['pause', 'resume', 'limit', 'quota']);

/** The subcommand and its options, as the shared admin actions take them. */
function request(interaction: ChatInputCommandInteraction): AdminRequest {
  const sub = interaction.options.getSubcommand();
  switch (sub) {
    case 'list':
    case 'pause':
    case 'resume':
    case 'clear':
      return { action: sub };
    case 'cancel':
      return { action: sub, job: interaction.options.getString('job', true).trim() };
    case 'limit':
      return { action: sub, perUser: interaction.options.getInteger('per_user', true) };
    case 'quota': {
      const perServer = interaction.options.getInteger('per_server');
      return {
        action: sub,
        user: interaction.options.getInteger('per_user', true),
        ...(perServer !== null ? { place: perServer } : {}),
      };
    }
    default:
      throw new Error(`unknown /queue subcommand ${sub}`);
  }
}

function refuse(
  interaction: ChatInputCommandInteraction,
  ctx: BotContext,
  why: string,
  message: string,
): never {
  ctx.logger.warn(
    {
      user: userIdOf(interaction.user.id),
      guild: interaction.guildId,
      action: interaction.options.getSubcommand(),
      why,
    },
    'admin action refused',
  );
  throw new Refusal('not_admin', message);
}

export const queue = {
  data: new SlashCommandBuilder()
    .setName('queue')
    .setDescription('Manage the animation queue (admins)')
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(InteractionContextType.Guild)
    .addSubcommand((s) => s.setName('list').setDescription('jobs, users, state, position and age'))
    .addSubcommand((s) =>
      s
        .setName('cancel')
        .setDescription('cancel a job')
        .addStringOption((o) => o.setName('job').setDescription('job id').setRequired(true).setMaxLength(80)),
    )
    .addSubcommand((s) => s.setName('pause').setDescription('stop starting new jobs'))
    .addSubcommand((s) => s.setName('resume').setDescription('start jobs again'))
    .addSubcommand((s) => s.setName('clear').setDescription('cancel every waiting job'))
    .addSubcommand((s) =>
      s
        .setName('limit')
        .setDescription('jobs per user, queued and running together')
        .addIntegerOption((o) =>
          within(o, PER_USER_LIMIT, 'per_user', `jobs per user (${rangeText(PER_USER_LIMIT)})`, true),
        ),
    )
    .addSubcommand((s) =>
      s
        .setName('quota')
        .setDescription('jobs per UTC day, per user and per server (0: none)')
        .addIntegerOption((o) => within(o, DAILY_QUOTA, 'per_user', 'jobs a day per user (0: none)', true))
        .addIntegerOption((o) =>
          within(o, DAILY_QUOTA, 'per_server', 'jobs a day per server or Slack workspace (0: none)'),
        ),
    ),
  async execute(interaction, ctx) {
    const sub = interaction.options.getSubcommand();
    const operator = isOperator(interaction, ctx.config);
    if (!interaction.guildId || !(operator || isGuildAdmin(interaction, ctx.config))) {
      refuse(
        interaction,
        ctx,
        'not an admin',
        'Only server admins (Manage Server) or the configured admin roles can manage the queue.',
      );
    }
    if (QUEUE_WIDE.has(sub) && !operator) {
      refuse(
        interaction,
        ctx,
        'not an operator',
        "Pause, resume and limits are for the bot's operators (DISCORD_OWNER_IDS, or admins of a DISCORD_HOME_GUILD_IDS server). Server admins list, cancel and clear this server's jobs.",
      );
    }
    const guildId = interaction.guildId!;
    const scope: AdminScope = {
      actor: { user: userIdOf(interaction.user.id), admin: true },
      operator,
      here: (job) => guildOfJob(job) === guildId,
      place: 'server',
      others: 'of other servers or Slack',
    };
    ctx.logger.info(
      {
        admin: scope.actor.user,
        guild: guildId,
        operator,
        action: sub,
        options: interaction.options.data[0]?.options,
      },
      'admin action',
    );
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const { head, lines } = await runAdminAction(ctx.service, scope, request(interaction));
    await interaction.editReply({ content: fitLines([head], lines), allowedMentions: { parse: [] } });
  },
} satisfies SlashCommand;
