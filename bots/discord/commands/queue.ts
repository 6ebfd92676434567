/**
 * `/queue list|cancel|pause|resume|clear|limit`: admin only. Registered with
 * default_member_permissions = Manage Server, and checked again on every use (an admin role from
 * DISCORD_ADMIN_ROLE_IDS also passes). Every action is logged with who did it.
 */
import {
  type ChatInputCommandInteraction,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  SlashCommandBuilder,
} from 'discord.js';
import { formatEta } from '../../../src/chat/render.ts';
import type { JobView } from '../../../src/service/types.ts';
import { type BotContext, type SlashCommand, userIdOf } from '../context.ts';
import { fitLines } from '../message-text.ts';
import { isAdmin } from '../permissions.ts';
import { Refusal } from '../refusal.ts';

function age(job: JobView): string {
  const s = Math.max(0, Math.round((Date.now() - job.created_at) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

function line(job: JobView): string {
  const where =
    job.state === 'queued' ? `#${job.position}` : `step ${job.progress.step}/${job.progress.steps}`;
  return `\`${job.id}\` ${job.state} ${where} · ${job.user} · ${age(job)} old · ETA ${formatEta(job.eta_s)}`;
}

async function run(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<string> {
  const sub = interaction.options.getSubcommand();
  const actor = { user: userIdOf(interaction.user.id), admin: true };
  ctx.logger.info(
    { admin: actor.user, action: sub, options: interaction.options.data[0]?.options },
    'admin action',
  );
  switch (sub) {
    case 'list': {
      const q = await ctx.service.queue();
      const jobs = [...q.running, ...q.queued];
      const head = `Queue ${q.paused ? 'paused' : 'running'} · ${q.running.length} running, ${q.queued.length} queued · per user ${q.limits.per_user}, max ${q.limits.max_queued}`;
      return fitLines([head], jobs.map(line));
    }
    case 'cancel': {
      const job = await ctx.service.cancel(interaction.options.getString('job', true).trim(), actor);
      return `✖️ Canceled \`${job.id}\` (${job.user}).`;
    }
    case 'pause':
      await ctx.service.pause();
      return '⏸️ Paused: no new job starts; the running one finishes. Jobs are still accepted.';
    case 'resume':
      await ctx.service.resume();
      return '▶️ Resumed.';
    case 'clear': {
      const { canceled } = await ctx.service.clear();
      return `🧹 Cleared the queue: ${canceled} waiting job${canceled === 1 ? '' : 's'} canceled.`;
    }
    case 'limit': {
      const limits = await ctx.service.setLimits({
        per_user: interaction.options.getInteger('per_user', true),
      });
      return `Limits: ${limits.per_user} jobs per user, ${limits.max_queued} in the queue.`;
    }
    default:
      throw new Error(`unknown /queue subcommand ${sub}`);
  }
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
          o
            .setName('per_user')
            .setDescription('jobs per user (1–100)')
            .setRequired(true)
            .setMinValue(1)
            .setMaxValue(100),
        ),
    ),
  async execute(interaction, ctx) {
    if (!isAdmin(interaction, ctx.config)) {
      ctx.logger.warn(
        { user: userIdOf(interaction.user.id), action: interaction.options.getSubcommand() },
        'admin action refused',
      );
      throw new Refusal(
        'not_admin',
        'Only server admins (Manage Server) or the configured admin roles can manage the queue.',
      );
    }
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    await interaction.editReply({ content: await run(interaction, ctx), allowedMentions: { parse: [] } });
  },
} satisfies SlashCommand;
