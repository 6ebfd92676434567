/**
 * The Slack adapter's settings, read from the environment (bots/slack/README.md,
 * "Settings"). No Slack library reads environment variables, so everything is passed explicitly.
 */
import { DEFAULT_MAX_IMAGE_BYTES, parseHostList } from '../../src/chat/index.ts';

export class SlackConfigError extends Error {
  override name = 'SlackConfigError';
  readonly code = 'bad_slack_config';
}

export interface SlackConfig {
  readonly botToken: string;
  /** Set: Socket Mode (no public URL). Unset: HTTP mode at POST /slack/events. */
  readonly appToken: string | undefined;
  readonly signingSecret: string | undefined;
  /** Slack user ids (`U…`), optionally team-qualified (`T…:U…` or `slack:T…:U…`). */
  readonly adminUsers: readonly string[];
  /** Base of the Web API; Socket Mode's apps.connections.open goes there too. */
  readonly apiUrl: string;
  readonly attachmentHosts: readonly string[];
  /**
   * The only hosts the bot token is sent to when downloading: Slack's file hosts and the host of
   * `apiUrl`. Other ATTACHMENT_HOSTS entries are fetched without it.
   */
  readonly tokenHosts: readonly string[];
  /** Largest picture the bot downloads, in bytes: the job service's upload limit. @default 20 000 000 */
  readonly maxImageBytes: number;
  /** Largest video uploaded (SLACK_MAX_UPLOAD_MB); bigger ones are re-encoded, or linked. @default 1000 MB */
  readonly uploadLimit: number;
  /** PREVIEW_IN_CHAT=1: one still of the live preview in the thread at about half-way. @default false */
  readonly previewInChat: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Where Slack serves `url_private_download` files. */
export const SLACK_FILE_HOSTS: readonly string[] = ['files.slack.com'];

const val = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

/** True when the environment asks for the Slack adapter (a bot token is set). */
export function slackRequested(env: Env): boolean {
  return val(env, 'SLACK_BOT_TOKEN') !== undefined;
}

/** Reads and checks the Slack settings; throws SlackConfigError naming every problem. */
export function loadSlackConfig(env: Env, defaults: { maxImageBytes?: number } = {}): SlackConfig {
  const problems: string[] = [];
  const botToken = val(env, 'SLACK_BOT_TOKEN');
  const appToken = val(env, 'SLACK_APP_TOKEN');
  const signingSecret = val(env, 'SLACK_SIGNING_SECRET');
  if (!botToken) problems.push('SLACK_BOT_TOKEN: required (the xoxb- bot token from "OAuth & Permissions")');
  else if (!botToken.startsWith('xoxb-'))
    problems.push('SLACK_BOT_TOKEN: must be a bot token starting with xoxb-');
  if (appToken && !appToken.startsWith('xapp-')) {
    problems.push('SLACK_APP_TOKEN: must be an app-level token starting with xapp- (connections:write)');
  }
  if (!appToken && !signingSecret) {
    problems.push(
      'SLACK_APP_TOKEN or SLACK_SIGNING_SECRET: set one (Socket Mode, or HTTP mode at /slack/events)',
    );
  }
  const apiUrl = val(env, 'SLACK_API_URL') ?? 'https://slack.com/api/';
  let apiHost = 'slack.com';
  try {
    apiHost = new URL(apiUrl).host.toLowerCase();
  } catch {
    problems.push(`SLACK_API_URL: not a URL (${apiUrl})`);
  }
  const uploadMb = Number(val(env, 'SLACK_MAX_UPLOAD_MB') ?? 1000);
  if (!(Number.isFinite(uploadMb) && uploadMb > 0 && uploadMb <= 1000))
    problems.push(
      'SLACK_MAX_UPLOAD_MB: a number of megabytes, more than 0 and at most 1000 (Slack’s own limit)',
    );
  if (problems.length > 0)
    throw new SlackConfigError(`invalid Slack configuration:\n  ${problems.join('\n  ')}`);
  return Object.freeze({
    botToken: botToken!,
    appToken,
    signingSecret,
    adminUsers: (val(env, 'SLACK_ADMIN_USERS') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    apiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`,
    attachmentHosts: parseHostList(env.ATTACHMENT_HOSTS),
    tokenHosts: [...new Set([apiHost, ...SLACK_FILE_HOSTS])],
    maxImageBytes: defaults.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
    uploadLimit: Math.round(uploadMb * 1_000_000),
    previewInChat: env.PREVIEW_IN_CHAT === '1',
  });
}
