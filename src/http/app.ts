/**
 * Builds the sidecar's fastify app (no listening here: see server.ts). Routes are registered
 * explicitly, one file per group.
 */
import multipart from '@fastify/multipart';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { registerPlayground } from '../playground/routes.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import type { AppOptions } from './context.ts';
import { errorHandler } from './errors.ts';
import { registerJobRoutes } from './job-routes.ts';
import { registerOpsRoutes } from './ops-routes.ts';

export type { AppOptions, SidecarInfo } from './context.ts';

export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const maxUpload = o.maxUploadBytes ?? 20_000_000;
  const app = Fastify({
    loggerInstance: o.logger as FastifyBaseLogger,
    forceCloseConnections: true,
    // Per-request lines are logged at debug level below; job lines carry the job id.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    bodyLimit: 1_000_000,
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'not_found' });
  });
  await app.register(multipart, {
    limits: { fileSize: maxUpload, files: 1, fields: 20, fieldSize: 16_384, parts: 24, headerPairs: 100 },
    throwFileSizeLimit: true,
  });
  app.addHook('onResponse', async (req, reply) => {
    if (req.url === '/metrics' || req.url === '/healthz' || req.url === '/readyz') return;
    req.log.debug(
      { method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  });
  registerOpsRoutes(app, o);
  registerJobRoutes(app, o);
  registerAdminRoutes(app, o);
  if (o.playground !== false) registerPlayground(app, o);
  return app;
}
