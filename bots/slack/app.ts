/**
 * The Bolt app: Socket Mode when an app-level token is set, else an HTTPReceiver whose request
 * listener the sidecar mounts at POST /slack/events. `clientOptions.slackApiUrl` points both the
 * Web API and Socket Mode's apps.connections.open at SLACK_API_URL.
 */
import { App, HTTPReceiver } from '@slack/bolt';
import { boltLogger } from './bolt-logger.ts';
import type { SlackDeps } from './context.ts';
import * as actions from './listeners/actions/index.ts';
import * as commands from './listeners/commands/index.ts';
import * as events from './listeners/events/index.ts';
import * as shortcuts from './listeners/shortcuts/index.ts';
import * as views from './listeners/views/index.ts';

export const EVENTS_PATH = '/slack/events';

export function createApp(deps: SlackDeps): { app: App; receiver: HTTPReceiver | undefined } {
  const { config } = deps;
  const logger = boltLogger(deps.logger);
  const receiver = config.appToken
    ? undefined
    : new HTTPReceiver({ signingSecret: config.signingSecret ?? '', endpoints: EVENTS_PATH, logger });
  const app = new App({
    token: config.botToken,
    ...(config.appToken ? { socketMode: true, appToken: config.appToken } : { receiver }),
    clientOptions: { slackApiUrl: config.apiUrl },
    logger,
    // auth.test runs in init(), so a bad token fails start instead of an unhandled rejection.
    deferInitialization: true,
  });
  for (const listeners of [commands, shortcuts, views, actions, events]) listeners.register(app, deps);
  app.error(async (err) => {
    deps.logger.error({ err: err.original ?? err, code: err.code }, 'slack: unhandled listener error');
  });
  return { app, receiver };
}
