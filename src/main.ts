/**
 * `npm start`: the GPU sidecar with its HTTP API and the playground, plus any chat bot whose
 * tokens are set. With ENGINE_URL the jobs go to a remote sidecar instead of the in-process one.
 */
// First: it may start the process again with glibc's malloc tuned (malloc-tuning.ts).
import './malloc-tuning.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type Config, loadConfig } from './config.ts';
import { type AppOptions, buildApp, type SidecarInfo } from './http/app.ts';
import { listen } from './http/server.ts';
import { createLogger, type Logger } from './log.ts';
import { configOrExit, stopOnSignals } from './process-control.ts';
import { createRedisProducer } from './scale/producer.ts';
import type { ModelSummary } from './service/engine-port.ts';
import { HttpJobService } from './service/http-client.ts';
import { type ResultLinks, resultLinksFor } from './service/result-links.ts';
import { createLocalSidecar } from './service/sidecar.ts';
import type { JobService } from './service/types.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface BotHandle {
  readonly requestListener?: unknown;
  stop?(): Promise<void> | void;
}

interface BotDeps {
  readonly service: JobService;
  readonly logger: Logger;
  readonly config: Config;
  readonly model: ModelSummary;
  /** Signed links for results too big to upload (PUBLIC_URL set). */
  readonly resultLinks?: ResultLinks;
}

interface BotSpec {
  readonly name: 'discord' | 'slack';
  readonly file: string;
  readonly exportName: string;
}

const DISCORD: BotSpec = { name: 'discord', file: 'bots/discord/start.ts', exportName: 'startDiscord' };
const SLACK: BotSpec = { name: 'slack', file: 'bots/slack/start.ts', exportName: 'startSlack' };

async function importFrom(file: string): Promise<Record<string, unknown>> {
  return import(pathToFileURL(path.join(root, file)).href);
}

/** Starts one bot, imported only now; a bot that fails to start is logged and the rest go on. */
async function startBot(spec: BotSpec, deps: BotDeps): Promise<BotHandle | undefined> {
  const log = deps.logger.child({ bot: spec.name });
  if (!existsSync(path.join(root, spec.file))) {
    log.error({ file: spec.file }, `${spec.name} tokens are set, but ${spec.file} is missing`);
    return undefined;
  }
  try {
    const start = (await importFrom(spec.file))[spec.exportName];
    if (typeof start !== 'function') throw new Error(`${spec.file} does not export ${spec.exportName}`);
    const handle = (await start({ ...deps, logger: log })) as BotHandle | undefined;
    log.info(`${spec.name} bot started`);
    return handle ?? {};
  } catch (err) {
    log.error({ err }, `${spec.name} bot failed to start`);
    return undefined;
  }
}

/** Slack's HTTP mode is served at POST /slack/events on this port: mount it before listening. */
async function mountSlack(app: FastifyInstance, bot: () => BotHandle | undefined): Promise<void> {
  const { mountSlackEvents } = (await importFrom('bots/slack/http-mount.ts')) as {
    mountSlackEvents: (server: FastifyInstance, source: () => BotHandle | undefined) => void;
  };
  mountSlackEvents(app, bot);
}

async function remoteInfo(client: HttpJobService, logger: Logger): Promise<SidecarInfo> {
  for (let attempt = 1; ; attempt++) {
    try {
      const m = await client.model();
      return { model: m, ready: () => true, provider: () => m.provider ?? undefined };
    } catch (err) {
      if (attempt >= 30) throw err;
      logger.warn({ attempt, err: (err as Error).message }, 'waiting for the remote sidecar (ENGINE_URL)');
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** The job service this process serves, as the HTTP app takes it, and how to stop and warm it. */
interface ServiceSetup {
  readonly appOptions: AppOptions;
  readonly stop: () => Promise<void>;
  /** Loads and warms the in-process engine; absent when the jobs run elsewhere. */
  readonly warm?: () => Promise<unknown>;
}

/** Where jobs run: a remote sidecar (ENGINE_URL), Redis workers (QUEUE_BACKEND=redis) or this process. */
async function startJobService(config: Config, logger: Logger): Promise<ServiceSetup> {
  const common = { logger, adminToken: config.adminToken, maxUploadBytes: config.maxUploadBytes };
  if (config.engineUrl) {
    // The bots here speak for their users: the remote sidecar trusts them by this token.
    const client = new HttpJobService({
      baseUrl: config.engineUrl,
      token: config.botToken ?? config.adminToken,
      adminToken: config.adminToken,
    });
    const info = await remoteInfo(client, logger);
    logger.info({ engine: config.engineUrl }, 'using the remote sidecar (ENGINE_URL)');
    return { appOptions: { ...common, service: client, info }, stop: async () => {} };
  }
  if (config.queueBackend === 'redis') {
    // Scale-out: this process is a producer; GPU workers (`npm run worker`) run the jobs.
    const producer = await createRedisProducer(config, logger, { defaultMetrics: true });
    logger.info(
      { prefix: config.redisPrefix },
      'queue backend: redis (jobs run on `npm run worker` processes)',
    );
    return {
      appOptions: { ...common, service: producer.service, info: producer.info, metrics: producer.metrics },
      stop: () => producer.close(),
    };
  }
  const sidecar = await createLocalSidecar(config, logger, { defaultMetrics: true });
  const service = sidecar.service;
  return {
    appOptions: {
      ...common,
      service,
      info: { model: service.model, ready: () => service.ready, provider: () => service.provider },
      metrics: sidecar.metrics,
      resultFile: (id) => service.resultFile(id),
    },
    stop: () => service.shutdown(),
    warm: sidecar.warm,
  };
}

async function main(): Promise<void> {
  const config = configOrExit('stillmotion', () => loadConfig());
  const logger = createLogger(config.logLevel, { format: config.logFormat });
  const { appOptions, stop: stopService, warm } = await startJobService(config, logger);

  const env = config.env;
  const wantDiscord = Boolean(env.DISCORD_TOKEN);
  const wantSlack = Boolean(env.SLACK_BOT_TOKEN && (env.SLACK_APP_TOKEN || env.SLACK_SIGNING_SECRET));
  let slack: BotHandle | undefined;

  const resultLinks = resultLinksFor(config);
  const app = await buildApp({
    ...appOptions,
    botToken: config.botToken,
    publicUrl: config.publicUrl,
    allowedHosts: config.allowedHosts,
    bindHost: config.host,
    trustProxy: config.trustProxy,
    limits: { submitsPerMinute: config.submitRatePerMinute },
    resultLinks,
  });
  if (wantSlack && !env.SLACK_APP_TOKEN) await mountSlack(app, () => slack);
  const server = await listen(app, config.host, config.port).catch((err: NodeJS.ErrnoException) => {
    const why =
      err.code === 'EADDRINUSE' ? 'is already in use (set PORT)' : `cannot be opened (${err.message})`;
    process.stderr.write(`stillmotion: ${config.host}:${config.port} ${why}\n`);
    process.exit(1);
  });
  process.stderr.write(`stillmotion: playground at ${server.url}\n`);
  logger.info({ url: server.url, model: appOptions.info.model.name }, 'listening');
  if (appOptions.info.model.randomWeights) {
    logger.warn(
      `the model "${appOptions.info.model.name}" has random weights, so its videos look like noise (SVD_MODEL_DIR names a converted model: README, "Real models")`,
    );
  }

  const bots: BotHandle[] = [];
  stopOnSignals(
    logger,
    'shutting down: no new jobs; the running job goes back to the queue',
    'shutting down',
    async () => {
      await Promise.all(bots.map((b) => b.stop?.()));
      await server.close(); // no new requests; the ones in flight finish
      await stopService(); // the running job goes back to the queue, the journal closes
    },
  );

  warm?.().catch((err: unknown) => {
    logger.fatal({ err }, 'the engine cannot start');
    process.stderr.write(`stillmotion: the engine cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  });

  const deps: BotDeps = {
    service: appOptions.service,
    logger,
    config,
    model: appOptions.info.model,
    resultLinks,
  };
  if (wantDiscord) {
    const discord = await startBot(DISCORD, deps);
    if (discord) bots.push(discord);
  }
  if (wantSlack) {
    slack = await startBot(SLACK, deps);
    if (slack) bots.push(slack);
  }
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`stillmotion: unhandled rejection: ${String((reason as Error)?.stack ?? reason)}\n`);
});

await main().catch((err: unknown) => {
  process.stderr.write(`stillmotion: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
