/**
 * `npm start`: the GPU sidecar with its HTTP API and the playground, plus any chat bot whose
 * tokens are set. With ENGINE_URL the jobs go to a remote sidecar instead of the in-process one.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { buildApp, type SidecarInfo } from './http/app.ts';
import { listen } from './http/server.ts';
import { createLogger, type Logger } from './log.ts';
import { HttpJobService } from './service/http-client.ts';
import { createLocalSidecar } from './service/sidecar.ts';
import type { JobService } from './service/types.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface BotHandle {
  stop?: () => Promise<void> | void;
}

type BotStarter = (deps: {
  service: JobService;
  logger: Logger;
  config: Config;
}) => Promise<BotHandle | undefined>;

/** Starts the bots whose tokens are set; each is imported only then. A bot that fails is logged. */
async function startBots(service: JobService, logger: Logger, config: Config): Promise<BotHandle[]> {
  const env = config.env;
  const bots: { name: string; enabled: boolean; file: string; exportName: string }[] = [
    {
      name: 'discord',
      enabled: Boolean(env.DISCORD_TOKEN),
      file: 'bots/discord/start.ts',
      exportName: 'startDiscord',
    },
    {
      name: 'slack',
      enabled: Boolean(env.SLACK_BOT_TOKEN && (env.SLACK_APP_TOKEN || env.SLACK_SIGNING_SECRET)),
      file: 'bots/slack/start.ts',
      exportName: 'startSlack',
    },
  ];
  const handles: BotHandle[] = [];
  for (const bot of bots) {
    if (!bot.enabled) continue;
    const file = path.join(root, bot.file);
    const log = logger.child({ bot: bot.name });
    if (!existsSync(file)) {
      log.error({ file: bot.file }, `${bot.name} tokens are set, but ${bot.file} is missing`);
      continue;
    }
    try {
      const mod = (await import(pathToFileURL(file).href)) as Record<string, BotStarter>;
      const start = mod[bot.exportName];
      if (typeof start !== 'function') throw new Error(`${bot.file} does not export ${bot.exportName}`);
      handles.push((await start({ service, logger: log, config })) ?? {});
      log.info(`${bot.name} bot started`);
    } catch (err) {
      log.error({ err }, `${bot.name} bot failed to start`);
    }
  }
  return handles;
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

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`stillmotion: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);

  let service: JobService;
  let info: SidecarInfo;
  let stopService: () => Promise<void> = async () => {};
  let appExtras: {
    metrics?: import('./service/metrics.ts').ServiceMetrics;
    resultFile?: typeof local.resultFile;
  } = {};
  let warm: (() => Promise<unknown>) | undefined;
  const local = {
    resultFile: undefined as
      | ((id: string) => { path: string; bytes: number; format: 'mp4' | 'gif' })
      | undefined,
  };

  if (config.engineUrl) {
    const client = new HttpJobService({ baseUrl: config.engineUrl, token: config.adminToken });
    info = await remoteInfo(client, logger);
    service = client;
    logger.info({ engine: config.engineUrl }, 'using the remote sidecar');
  } else {
    const sidecar = await createLocalSidecar(config, logger, { defaultMetrics: true });
    service = sidecar.service;
    info = {
      model: sidecar.service.model,
      ready: () => sidecar.service.ready,
      provider: () => sidecar.service.provider,
    };
    local.resultFile = (id) => sidecar.service.resultFile(id);
    appExtras = { metrics: sidecar.metrics, resultFile: local.resultFile };
    stopService = () => sidecar.service.shutdown();
    warm = sidecar.warm;
  }

  const app = await buildApp({
    service,
    info,
    logger,
    adminToken: config.adminToken,
    maxUploadBytes: config.maxUploadBytes,
    ...appExtras,
  });
  const server = await listen(app, config.host, config.port);
  process.stderr.write(`stillmotion: playground at ${server.url}\n`);
  logger.info({ url: server.url, model: info.model.name }, 'listening');
  if (info.model.randomWeights) {
    logger.warn('the bundled tiny model has random weights: its videos look like noise (set SVD_MODEL_DIR)');
  }

  let stopping = false;
  const bots: BotHandle[] = [];
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new jobs; the running job goes back to the queue');
    try {
      await Promise.all(bots.map((b) => b.stop?.()));
      await stopService();
      await server.close();
    } catch (err) {
      logger.error({ err }, 'error while shutting down');
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  if (warm) {
    warm().catch((err: unknown) => {
      logger.fatal({ err }, 'the engine cannot start');
      process.stderr.write(`stillmotion: the engine cannot start: ${(err as Error).message}\n`);
      process.exit(1);
    });
  }
  bots.push(...(await startBots(service, logger, config)));
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`stillmotion: unhandled rejection: ${String((reason as Error)?.stack ?? reason)}\n`);
});

await main();
