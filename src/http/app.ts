/**
 * Builds the sidecar's fastify app (no listening here: see server.ts). Routes are registered
 * explicitly, one file per group. Rights are hooks of the scopes the routes live in, so they
 * apply to the route fastify matched, however its URL was spelled:
 *
 *   root     Host and Origin rules (site-guard.ts), who is calling (auth.ts); /healthz, /readyz,
 *            /metrics (admin token off loopback), the playground
 *   /v1      a token, or an anonymous caller on loopback: the job routes, /v1/model and /v1/options
 *   /v1/queue  the admin token, always
 */
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { registerPlayground } from '../playground/routes.ts';
import { ERROR_STATUS } from '../service/errors.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import { type AccessPolicy, adminAccess, apiAccess, type Caller, identify } from './auth.ts';
import type { AppOptions } from './context.ts';
import { errorHandler } from './errors.ts';
import { registerJobRoutes } from './job-routes.ts';
import { registerModelRoute, registerOpsRoutes } from './ops-routes.ts';
import { registerSignedResultRoute } from './result-route.ts';
import { siteGuard } from './site-guard.ts';

export type { AppOptions, SidecarInfo } from './context.ts';

/** Time to receive a whole request (a 20 MB upload on a slow link), and to sit idle. */
export const REQUEST_TIMEOUT_MS = 120_000;
export const IDLE_TIMEOUT_MS = 90_000;

export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const maxUpload = o.maxUploadBytes ?? 20_000_000;
  const policy: AccessPolicy = {
    adminToken: o.adminToken,
    botToken: o.botToken,
    publicMode: Boolean(o.publicUrl || o.trustProxy),
  };
  const app = Fastify({
    loggerInstance: o.logger as FastifyBaseLogger,
    forceCloseConnections: true,
    // Per-request lines are logged at debug level below; job lines carry the job id.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    bodyLimit: 1_000_000,
    trustProxy: o.trustProxy ?? false,
    requestTimeout: o.limits?.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    // Inactivity on a socket (a slow-loris client); SSE streams send a comment every 15 s.
    connectionTimeout: o.limits?.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(ERROR_STATUS.not_found)
      .send({ error: `no route ${req.method} ${req.url.split('?')[0]?.slice(0, 200)}`, code: 'not_found' });
  });
  await app.register(cookie);
  await app.register(multipart, {
    limits: {
      fileSize: maxUpload,
      files: 1,
      fields: 20,
      fieldSize: 16_384,
      fieldNameSize: 64,
      parts: 24,
      headerPairs: 100,
    },
    throwFileSizeLimit: true,
  });
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', siteGuard(o));
  app.addHook('onRequest', async (req) => {
    req.caller = identify(req, policy);
  });
  app.addHook('onResponse', async (req, reply) => {
    if (req.url === '/metrics' || req.url === '/healthz' || req.url === '/readyz') return;
    req.log.debug(
      { method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  });
  registerOpsRoutes(app, o, policy);
  // Outside /v1: the signature is the right to this one result (PUBLIC_URL set).
  if (o.resultLinks) registerSignedResultRoute(app, o.service, o.resultFile, o.resultLinks);
  await app.register(async (v1) => {
    v1.addHook('onRequest', apiAccess(policy));
    registerModelRoute(v1, o);
    registerJobRoutes(v1, o);
    await v1.register(async (admin) => {
      admin.addHook('onRequest', adminAccess(policy));
      registerAdminRoutes(admin, o);
    });
  });
  if (o.playground !== false) registerPlayground(app, o);
  return app;
}
