/**
 * What every Slack listener needs: the job service, settings, the model's defaults (for the modal
 * and help), the logger, and who is who (namespaced user ids, admins).
 */
import type { Logger } from 'pino';
import type { ModelDefaults } from '../../src/chat/index.ts';
import type { ResultLinks } from '../../src/service/result-links.ts';
import type { Actor, JobService } from '../../src/service/types.ts';
import type { SlackConfig } from './config.ts';

export interface SlackDeps {
  readonly service: JobService;
  readonly config: SlackConfig;
  readonly logger: Logger;
  /** Defaults from model.json; undefined when the model is remote (ENGINE_URL) and unknown here. */
  readonly model: ModelDefaults | undefined;
  /** True when the bundled random-weight model is in use (its output looks like noise). */
  readonly randomWeights: boolean;
  /** Jobs this process is following or delivering, so nothing is posted twice. */
  readonly active: Set<string>;
  /** Signed links for results too big to upload (PUBLIC_URL set). */
  readonly resultLinks?: ResultLinks;
  /** Where Reroll's new seeds come from (tests); the engine's `randomSeed` otherwise. */
  readonly randomSeed?: () => number;
}

/** The namespaced id the job service knows a Slack user by. */
export function slackUserId(team: string, user: string): string {
  return `slack:${team}:${user}`;
}

/** SLACK_ADMIN_USERS entries may be `U…`, `T…:U…` or `slack:T…:U…`. */
export function isAdmin(config: SlackConfig, team: string, user: string): boolean {
  return config.adminUsers.some((entry) => {
    const e = entry.replace(/^slack:/, '');
    return e === user || e === `${team}:${user}`;
  });
}

export function actorOf(deps: SlackDeps, team: string, user: string): Actor {
  return { user: slackUserId(team, user), admin: isAdmin(deps.config, team, user) };
}

/** Where a Slack job's status and result go; stored in the job journal as the delivery target. */
export interface SlackTarget {
  readonly platform: 'slack';
  readonly team: string;
  /** The Slack user who asked (for ephemeral replies and mentions). */
  readonly user: string;
  readonly channel: string;
  /** The bot's status message, edited as the job moves. */
  readonly status_ts: string;
  /** The thread the video goes into: the status message itself for /animate. */
  readonly thread_ts: string;
  /** The source picture, kept so Reroll and More/Less motion can fetch it again. */
  readonly file_id: string;
}

export function asSlackTarget(delivery: Record<string, unknown> | undefined): SlackTarget | undefined {
  if (delivery?.platform !== 'slack') return undefined;
  const keys = ['team', 'user', 'channel', 'status_ts', 'thread_ts', 'file_id'] as const;
  return keys.every((k) => typeof delivery[k] === 'string')
    ? (delivery as unknown as SlackTarget)
    : undefined;
}
