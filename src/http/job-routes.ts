/**
 * Job routes (src/service/README.md, "HTTP API"): submit, read, stream, result, cancel, list,
 * delivered. Registered inside the `/v1` scope of app.ts, whose hook has already decided that the
 * caller may use them; here each route applies who the caller is (auth.ts): anonymous callers
 * see and act on their own jobs only, token holders may speak for any user.
 */
import { optionSpecs } from '@stillmotion/engine';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { noSuchJob, refuse } from '../service/errors.ts';
import type { Actor, JobView } from '../service/types.ts';
import { TERMINAL } from '../service/types.ts';
import { isTrusted, maySee, requireTrusted } from './auth.ts';
import type { AppOptions } from './context.ts';
import { mapError } from './errors.ts';
import { readJobForm } from './job-form.ts';
import { sendResult } from './result-route.ts';
import { StreamCaps, streamJob } from './sse.ts';
import { SubmitGate } from './submit-gate.ts';

const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });

function jobId(req: FastifyRequest): string {
  const parsed = idParams.safeParse(req.params);
  if (!parsed.success) throw refuse('not_found', 'no such job');
  return parsed.data.id;
}

function queryText(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The job, if this caller may see it; anonymous callers get 404 for other people's jobs. */
async function visibleJob(o: AppOptions, req: FastifyRequest): Promise<JobView> {
  const id = jobId(req);
  const job = await o.service.get(id);
  if (!job || !maySee(req.caller, job.user)) throw noSuchJob(id);
  return job;
}

export function registerJobRoutes(app: FastifyInstance, o: AppOptions): void {
  registerSubmit(app, o);
  registerLists(app, o);
  registerJobReads(app, o);
  registerJobActions(app, o);
}

/** POST /v1/jobs: the rate and the caps are checked before the body is read, the form after. */
function registerSubmit(app: FastifyInstance, o: AppOptions): void {
  const specs = (o.optionTable ?? optionSpecs)(o.info.model);
  const gate = new SubmitGate(o.service, o.limits?.submitsPerMinute ?? 30);
  app.post('/v1/jobs', async (req, reply) => {
    try {
      const caller = req.caller;
      const trusted = isTrusted(caller);
      let admitted = false;
      const admit = async (rateKey: string, user: string) => {
        if (admitted) return;
        admitted = true;
        await gate.admit(rateKey, user, reply);
      };
      // An anonymous caller's identity is known now: refuse before reading a byte of the body.
      // Its rate is counted per address, so new session cookies do not buy more submissions.
      if (!trusted) await admit(`http:${req.ip}`, caller.identity);
      const form = await readJobForm(req, specs, {
        trusted,
        // A token holder names the user in the form: checked as the picture starts when the
        // user field came first (as HttpJobService sends it), else once the form is read.
        beforeImage: (named) => (trusted && named ? admit(named, named) : undefined),
      });
      const user = trusted ? (form.user ?? `http:${req.ip}`) : caller.identity;
      await admit(user, user);
      const { id, position } = await o.service.submit({
        image: form.image,
        options: form.options,
        user,
        delivery: form.delivery,
      });
      return reply.code(202).send({ id, position });
    } catch (err) {
      o.metrics?.refused.inc({ code: mapError(err).body.code });
      throw err;
    }
  });
}

/** The caller's jobs (a token holder names the user), the undelivered ones, and today's quotas. */
function registerLists(app: FastifyInstance, o: AppOptions): void {
  app.get('/v1/jobs', async (req) => {
    const caller = req.caller;
    if (queryText(req, 'undelivered') !== undefined) {
      requireTrusted(caller, 'listing undelivered jobs', 'undelivered');
      return { jobs: await o.service.undelivered() };
    }
    const named = queryText(req, 'user');
    if (!isTrusted(caller)) {
      if (named !== undefined) requireTrusted(caller, 'naming a user', 'user');
      return { jobs: await o.service.list(caller.identity) };
    }
    if (!named) throw refuse('missing_user', 'give ?user=<namespaced id>', { option: 'user' });
    return { jobs: await o.service.list(named) };
  });

  // What is left of today's quotas: trusted callers ask for `?user=` (and a Discord `?guild=`).
  app.get('/v1/quota', async (req) => {
    const caller = req.caller;
    const named = queryText(req, 'user');
    const guild = queryText(req, 'guild');
    if (named !== undefined || guild !== undefined) requireTrusted(caller, 'naming a user', 'user');
    if (!o.service.quotaLeft) throw refuse('no_quotas', 'this service keeps no quotas');
    return o.service.quotaLeft(named ?? caller.identity, guild ? { guildId: guild } : undefined);
  });
}

/** One job as its caller may see it: the view, its event stream, the live preview and the result. */
function registerJobReads(app: FastifyInstance, o: AppOptions): void {
  const streams = new StreamCaps(o.limits?.streams);

  app.get('/v1/jobs/:id', async (req) => visibleJob(o, req));

  app.get('/v1/jobs/:id/events', async (req, reply) => {
    const job = await visibleJob(o, req);
    const release = streams.open(req.caller.identity);
    try {
      await streamJob(o.service, job.id, req, reply, job, { maxMs: streams.maxMs, onEnd: release });
    } catch (err) {
      release();
      throw err;
    }
  });

  // The latest live preview, from the first denoising step on, during and after the job.
  app.get('/v1/jobs/:id/preview', async (req, reply) => {
    const job = await visibleJob(o, req);
    const id = job.id;
    const preview = await o.service.preview(id);
    if (!preview) throw refuse('no_preview', `job ${id} has no preview yet (it comes after the first step)`);
    return reply
      .type(preview.type)
      .header('cache-control', 'no-store')
      .header('x-preview-step', String(preview.step))
      .header('x-content-type-options', 'nosniff')
      .send(preview.data);
  });

  app.get('/v1/jobs/:id/result', async (req, reply) => {
    const job = await visibleJob(o, req);
    return sendResult(o.service, o.resultFile, job.id, req, reply);
  });
}

/** Cancel or delete, and the bots' delivery receipt. */
function registerJobActions(app: FastifyInstance, o: AppOptions): void {
  // Cancels a waiting or running job; on an ended job, deletes its stored result.
  app.delete('/v1/jobs/:id', async (req) => {
    const caller = req.caller;
    const named = queryText(req, 'user');
    if (named !== undefined) requireTrusted(caller, 'naming a user', 'user');
    const job = await visibleJob(o, req);
    // admin token without ?user=: any job; with ?user=: as that user; anonymous: as itself.
    const actor: Actor =
      caller.kind === 'admin' && named === undefined
        ? { user: 'admin', admin: true }
        : { user: named ?? caller.identity, admin: false };
    if (TERMINAL.has(job.state)) {
      await o.service.deleteResult(job.id, actor);
      return (await o.service.get(job.id))!;
    }
    req.log.info({ job: job.id, by: actor.user }, 'cancel requested');
    return o.service.cancel(job.id, actor);
  });

  app.post('/v1/jobs/:id/delivered', async (req) => {
    requireTrusted(req.caller, 'marking a job delivered');
    const id = jobId(req);
    await o.service.markDelivered(id);
    return { id, delivered: true };
  });
}
