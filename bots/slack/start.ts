/**
 * Starts the Slack adapter on a job service (in-process or remote through ENGINE_URL).
 *
 * - Socket Mode when SLACK_APP_TOKEN is set: Bolt opens the socket itself; nothing to mount.
 * - Otherwise HTTP mode: the returned `requestListener` must be mounted at POST /slack/events on
 *   the sidecar's own port (see http-mount.ts); Bolt checks SLACK_SIGNING_SECRET on every request.
 *
 * After connecting it delivers results that finished while the bot was down and follows the
 * Slack jobs still queued or running; then it looks for undelivered results every `sweepMs`.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '@slack/bolt';
import type { Logger } from 'pino';
import type { ModelDefaults } from '../../src/chat/index.ts';
import { serviceModel } from '../../src/chat/service-model.ts';
import type { ResultLinks } from '../../src/service/result-links.ts';
import type { JobService } from '../../src/service/types.ts';
import { createApp, EVENTS_PATH } from './app.ts';
import { loadSlackConfig, type SlackConfig } from './config.ts';
import type { SlackDeps } from './context.ts';
import { slackRecovery } from './recovery.ts';

export interface StartSlackOptions {
  readonly service: JobService;
  readonly logger: Logger;
  /** The service configuration (src/config.ts): Slack variables are read from `env`. */
  readonly config: {
    readonly env: Readonly<Record<string, string | undefined>>;
    readonly maxUploadBytes?: number;
  };
  /** Signed links for results too big to upload (PUBLIC_URL set). */
  readonly resultLinks?: ResultLinks;
  /** How often finished but undelivered jobs are looked for again. @default 30000 */
  readonly sweepMs?: number;
  /** Model defaults for the modal and help; taken from `service.model` when the service has one. */
  readonly model?: ModelDefaults & { readonly randomWeights?: boolean };
  /** Where Reroll's new seeds come from (tests). @default the engine's randomSeed */
  readonly randomSeed?: () => number;
}

export interface SlackBot {
  readonly mode: 'socket' | 'http';
  readonly app: App;
  readonly config: SlackConfig;
  /** HTTP mode only: Bolt's handler for POST {@link EVENTS_PATH}; it reads the raw body itself. */
  readonly requestListener: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  readonly path: string;
  stop(): Promise<void>;
}

export async function startSlack(opts: StartSlackOptions): Promise<SlackBot> {
  const config = loadSlackConfig(opts.config.env, { maxImageBytes: opts.config.maxUploadBytes });
  const logger = opts.logger.child({ bot: 'slack' });
  const model = opts.model ?? (await serviceModel(opts.service, logger));
  const deps: SlackDeps = {
    service: opts.service,
    config,
    logger,
    model: model
      ? {
          frames: model.frames,
          fps: model.fps,
          motion: model.motion,
          steps: model.steps,
          guidance: model.guidance,
          maxSteps: model.maxSteps,
        }
      : undefined,
    randomWeights: model?.randomWeights === true,
    active: new Set(),
    ...(opts.resultLinks ? { resultLinks: opts.resultLinks } : {}),
    ...(opts.randomSeed ? { randomSeed: opts.randomSeed } : {}),
  };
  const { app, receiver } = createApp(deps);
  await app.init();
  const mode = config.appToken ? 'socket' : 'http';
  if (mode === 'socket') await app.start();
  logger.info({ mode, api: config.apiUrl, admins: config.adminUsers.length }, 'slack: connected');
  const recovery = slackRecovery(deps, app.client, opts.sweepMs);
  try {
    const r = await recovery.resume();
    if (r.delivered || r.followed) logger.info(r, 'slack: resumed jobs from before the restart');
  } catch (err) {
    logger.error({ err }, 'slack: could not resume deliveries');
  }
  // Deliveries that failed (Slack down, upload refused) are retried without waiting for a restart.
  recovery.start();
  return {
    mode,
    app,
    config,
    requestListener: receiver ? receiver.requestListener : undefined,
    path: EVENTS_PATH,
    async stop() {
      recovery.stop();
      if (mode === 'socket') await app.stop();
      logger.info('slack: stopped');
    },
  };
}
