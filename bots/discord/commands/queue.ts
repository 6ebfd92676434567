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
} from 'discord.js';
import { Refusal } from '../../../src/chat/refusal.ts';
import { formatEta } from '../../../src/chat/render.ts';
import { type Actor, type JobView, ServiceError } from '../../../src/service/types.ts';
import { type BotContext, type SlashCommand, userIdOf } from '../context.ts';
import { fitLines } from '../message-text.ts';
import { guildOfJob, isGuildAdmin, isOperator } from '../permissions.ts';

/** Who is asking, from where, with which rights. */
interface Asker {
  readonly actor: Actor;
  readonly guildId: string;
  readonly operator: boolean;
}

/** Subcommands that act on the whole queue, for operators only. */
const QUEUE_WIDE = new Set(['pause', 'resume', 'limit', 'quota']);

function age(job: JobView): string {
  const s = Math.max(0, Math.round((Date.now() - job.created_at) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

/** One job; `who` is its user here, or a word for jobs of other guilds and Slack (never their user). */
function line(job: JobView, who: string): string {
  const where =
    job.state === 'queued' ? `#${job.position}` : `step ${job.progress.step}/${job.progress.steps}`;
  return `\`${job.id}\` ${job.state} ${where} · ${who} · ${age(job)} old · ETA ${formatEta(job.eta_s)}`;
}

function listText(q: Awaited<ReturnType<BotContext['service']['queue']>>, asker: Asker): string {
  const jobs = [...q.running, ...q.queued];
  const here = jobs.filter((j) => guildOfJob(j) === asker.guildId);
  const elsewhere = jobs.filter((j) => guildOfJob(j) !== asker.guildId);
  const head = `Queue ${q.paused ? 'paused' : 'running'} · ${q.running.length} running, ${q.queued.length} queued · per user ${q.limits.per_user}, max ${q.limits.max_queued}`;
  const lines = here.map((j) => line(j, j.user));
  if (asker.operator) lines.push(...elsewhere.map((j) => line(j, 'elsewhere')));
  else if (elsewhere.length > 0)
    lines.push(`(+ ${elsewhere.length} job${elsewhere.length === 1 ? '' : 's'} of other servers or Slack)`);
  return fitLines([head], lines);
}

/** Cancels this guild's waiting jobs, one by one (the service's clear is queue-wide). */
async function clearGuild(ctx: BotContext, asker: Asker): Promise<number> {
  const q = await ctx.service.queue();
  let canceled = 0;
  for (const waiting of q.queued.filter((j) => guildOfJob(j) === asker.guildId)) {
    // Clear cancels waiting jobs only: one that started meanwhile is left to run.
    const job = await ctx.service.get(waiting.id);
    if (job?.state !== 'queued') continue;
    if ((await ctx.service.cancel(job.id, asker.actor)).state === 'canceled') canceled++;
  }
  return canceled;
}

async function run(interaction: ChatInputCommandInteraction, ctx: BotContext, asker: Asker): Promise<string> {
  const sub = interaction.options.getSubcommand();
  switch (sub) {
    case 'list':
      return listText(await ctx.service.queue(), asker);
    case 'cancel': {
      const id = interaction.options.getString('job', true).trim();
      const job = await ctx.service.get(id);
      // Another guild's job is answered like a missing one: its id says nothing here.
      if (!job || (!asker.operator && guildOfJob(job) !== asker.guildId))
        throw new ServiceError(404, 'not_found', `job ${id} not found`);
      const canceled = await ctx.service.cancel(id, asker.actor);
      return `✖️ Canceled \`${canceled.id}\` (${guildOfJob(job) === asker.guildId ? canceled.user : 'elsewhere'}).`;
    }
    case 'pause':
      await ctx.service.pause();
      return '⏸️ Paused: no new job starts; the running one finishes. Jobs are still accepted.';
    case 'resume':
      await ctx.service.resume();
      return '▶️ Resumed.';
    case 'clear': {
      if (asker.operator) {
        const { canceled } = await ctx.service.clear();
        return `🧹 Cleared the whole queue: ${canceled} waiting job${canceled === 1 ? '' : 's'} canceled.`;
      }
      const canceled = await clearGuild(ctx, asker);
      return `🧹 Cleared this server's jobs: ${canceled} waiting job${canceled === 1 ? '' : 's'} canceled.`;
    }
    case 'limit': {
      const limits = await ctx.service.setLimits({
        per_user: interaction.options.getInteger('per_user', true),
      });
      return `Limits: ${limits.per_user} jobs per user, ${limits.max_queued} in the queue.`;
    }
    case 'quota': {
      if (!ctx.service.setQuotas) return 'This service keeps no quotas.';
      const perServer = interaction.options.getInteger('per_server');
      const quotas = await ctx.service.setQuotas({
        user: interaction.options.getInteger('per_user', true),
        ...(perServer !== null ? { guild: perServer } : {}),
      });
      const show = (n: number) => (n > 0 ? `${n} a day` : 'none');
      return `Daily quotas: ${show(quotas.user)} per user, ${show(quotas.guild)} per server (UTC days).`;
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
          o
            .setName('per_user')
            .setDescription('jobs per user (1–100)')
            .setRequired(true)
            .setMinValue(1)
            .setMaxValue(100),
        ),
    )
    .addSubcommand((s) =>
      s
        .setName('quota')
        .setDescription('jobs per UTC day, per user and per server (0: none)')
        .addIntegerOption((o) =>
          o
            .setName('per_user')
            .setDescription('jobs a day per user (0: none)')
            .setRequired(true)
            .setMinValue(0)
            .setMaxValue(1_000_000),
        )
        .addIntegerOption((o) =>
          o
            .setName('per_server')
            .setDescription('jobs a day per server or Slack workspace (0: none)')
            .setMinValue(0)
            .setMaxValue(1_000_000),
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
    const asker: Asker = {
      actor: { user: userIdOf(interaction.user.id), admin: true },
      guildId: interaction.guildId!,
      operator,
    };
    ctx.logger.info(
      {
        admin: asker.actor.user,
        guild: asker.guildId,
        operator,
        action: sub,
        options: interaction.options.data[0]?.options,
      },
      'admin action',
    );
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    await interaction.editReply({
      content: await run(interaction, ctx, asker),
      allowedMentions: { parse: [] },
    });
  },
} satisfies SlashCommand;
