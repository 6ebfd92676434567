/** Health, readiness, metrics and the model description the playground reads. */
import { chooseSize, findSpec, optionSpecs, type SizeMode } from '@stillmotion/engine';
import type { FastifyInstance } from 'fastify';
import { MOTION_STEP } from '../chat/render.ts';
import { ERROR_STATUS, refuse } from '../service/errors.ts';
import { type AccessPolicy, adminAccess, peerIsLocal } from './auth.ts';
import type { AppOptions } from './context.ts';

export function registerOpsRoutes(app: FastifyInstance, o: AppOptions, policy: AccessPolicy): void {
  const admin = adminAccess(policy);
  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (_req, reply) => {
    const ready = o.info.ready();
    return reply.code(ready ? 200 : 503).send({ ready, provider: o.info.provider() ?? null });
  });

  // Off loopback (or behind a proxy), the metrics need the admin token.
  const metricsAccess = async (req: Parameters<typeof admin>[0], reply: Parameters<typeof admin>[1]) => {
    if (!peerIsLocal(req, policy) || req.caller.badToken) await admin(req, reply);
  };
  app.get('/metrics', { onRequest: metricsAccess }, async (_req, reply) => {
    if (!o.metrics)
      return reply.code(ERROR_STATUS.not_found).send({ error: 'metrics are off', code: 'not_found' });
    return reply.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics());
  });
}

/**
 * `GET /v1/model`, `GET /v1/options` and `GET /v1/sizes`: inside the /v1 scope, so they answer
 * whoever may use the job routes. `/v1/options` is the option table for the model in use, the rows
 * the playground builds its form from (names, labels, kinds, ranges, defaults, help text: nothing
 * secret, all of it set with textContent there).
 */
export function registerModelRoute(app: FastifyInstance, o: AppOptions): void {
  const table = o.optionTable ?? optionSpecs;
  app.get('/v1/options', async () => ({ options: table(o.info.model) }));

  app.get('/v1/model', async () => {
    const m = o.info.model;
    return {
      name: m.name,
      random_weights: m.randomWeights,
      frames: m.frames,
      width: m.width,
      height: m.height,
      fps: m.fps,
      motion: m.motion,
      steps: m.steps,
      guidance: m.guidance,
      max_steps: m.maxSteps,
      steerable: m.steerable,
      provider: o.info.provider() ?? null,
      ready: o.info.ready(),
      options: table(m),
      // More / Less motion in the playground, as the chat buttons do it.
      motion_step: MOTION_STEP,
    };
  });

  // The output size each `size` choice gives a picture of width × height (the playground's crop preview).
  app.get('/v1/sizes', async (req) => {
    const q = req.query as Record<string, unknown>;
    const width = Number(q.width);
    const height = Number(q.height);
    if (
      !(
        Number.isInteger(width) &&
        Number.isInteger(height) &&
        width > 0 &&
        height > 0 &&
        width * height <= 1e9
      )
    )
      throw refuse('bad_size', 'give ?width=&height= as whole numbers of pixels', {
        option: 'size',
      });
    const modes = findSpec(table(o.info.model), 'size')?.choices ?? [];
    return Object.fromEntries(
      modes.map((mode) => [mode, chooseSize(mode as SizeMode, width, height, o.info.model)]),
    );
  });
}
