/**
 * Job routes (docs/product.md, "The GPU sidecar"): submit, read, stream, result, cancel, list,
 * delivered. No token on loopback; from elsewhere the Bearer token.
 */
import { optionSpecs } from '@stillmotion/engine';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Actor } from '../service/types.ts';
import { ServiceError } from '../service/types.ts';
import { bearerMatches, requireJobAccess } from './auth.ts';
import type { AppOptions } from './context.ts';
import { mapError } from './errors.ts';
import { readJobForm } from './job-form.ts';
import { sendResult } from './result-route.ts';
import { streamJob } from './sse.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);
const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });

function jobId(req: FastifyRequest): string {
  const parsed = idParams.safeParse(req.params);
  if (!parsed.success) throw new ServiceError(404, 'not_found', 'no such job');
  return parsed.data.id;
}

function queryText(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function registerJobRoutes(app: FastifyInstance, o: AppOptions): void {
  const specs = optionSpecs(o.info.model);
  const token = o.adminToken;

  app.post('/v1/jobs', async (req, reply) => {
    try {
      requireJobAccess(req, token);
      const form = await readJobForm(req, specs);
      const { id, position } = await o.service.submit({
        image: form.image,
        options: form.options,
        user: form.user ?? `http:${req.ip}`,
        delivery: form.delivery,
      });
      return reply.code(202).send({ id, position });
    } catch (err) {
      o.metrics?.refused.inc({ code: mapError(err).body.code });
      throw err;
    }
  });

  app.get('/v1/jobs', async (req) => {
    requireJobAccess(req, token);
    const user = queryText(req, 'user');
    if (queryText(req, 'undelivered') !== undefined) return { jobs: await o.service.undelivered() };
    if (!user) throw new ServiceError(400, 'missing_user', 'give ?user=<namespaced id>', { option: 'user' });
    return { jobs: await o.service.list(user) };
  });

  app.get('/v1/jobs/:id', async (req) => {
    requireJobAccess(req, token);
    const id = jobId(req);
    const job = await o.service.get(id);
    if (!job) throw new ServiceError(404, 'not_found', `no job ${id}`);
    return job;
  });

  app.get('/v1/jobs/:id/events', async (req, reply) => {
    requireJobAccess(req, token);
    const id = jobId(req);
    const job = await o.service.get(id);
    if (!job) throw new ServiceError(404, 'not_found', `no job ${id}`);
    await streamJob(o.service, id, req, reply, job);
  });

  // The latest live preview, from the first denoising step on, during and after the job.
  app.get('/v1/jobs/:id/preview', async (req, reply) => {
    requireJobAccess(req, token);
    const id = jobId(req);
    const [job, preview] = await Promise.all([o.service.get(id), o.service.preview(id)]);
    if (!job) throw new ServiceError(404, 'not_found', `no job ${id}`);
    if (!preview)
      throw new ServiceError(
        404,
        'no_preview',
        `job ${id} has no preview yet (it comes after the first step)`,
      );
    return reply
      .type(preview.type)
      .header('cache-control', 'no-store')
      .header('x-preview-step', String(preview.step))
      .header('x-content-type-options', 'nosniff')
      .send(preview.data);
  });

  app.get('/v1/jobs/:id/result', async (req, reply) => {
    requireJobAccess(req, token);
    return sendResult(o.service, o.resultFile, jobId(req), req, reply);
  });

  // Cancels a waiting or running job; on an ended job, deletes its stored result.
  app.delete('/v1/jobs/:id', async (req) => {
    requireJobAccess(req, token);
    const id = jobId(req);
    const user = queryText(req, 'user');
    const actor: Actor = bearerMatches(req, token)
      ? { user: user ?? 'admin', admin: true }
      : user
        ? { user, admin: false }
        : { user: `http:${req.ip}`, admin: true };
    const job = await o.service.get(id);
    if (!job) throw new ServiceError(404, 'not_found', `no job ${id}`);
    if (TERMINAL.has(job.state)) {
      await o.service.deleteResult(id, actor);
      return (await o.service.get(id))!;
    }
    req.log.info({ job: id, by: actor.user }, 'cancel requested');
    return o.service.cancel(id, actor);
  });

  app.post('/v1/jobs/:id/delivered', async (req) => {
    requireJobAccess(req, token);
    const id = jobId(req);
    await o.service.markDelivered(id);
    return { id, delivered: true };
  });
}
