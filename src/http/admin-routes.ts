/**
 * Admin routes: queue view, pause, resume, clear, limits. Registered inside the admin scope of
 * app.ts, whose hook requires the admin token on every one of them.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  DAILY_QUOTA,
  MAX_QUEUED_LIMIT,
  PER_USER_LIMIT,
  type Range,
  rangeText,
} from '../service/admin-ranges.ts';
import { refuse } from '../service/errors.ts';
import type { AppOptions } from './context.ts';

const within = (r: Range) => z.number().int().min(r.min).max(r.max).optional();

const limitsBody = z
  .object({ per_user: within(PER_USER_LIMIT), max_queued: within(MAX_QUEUED_LIMIT) })
  .strict();

const quotasBody = z.object({ user: within(DAILY_QUOTA), guild: within(DAILY_QUOTA) }).strict();

export function registerAdminRoutes(app: FastifyInstance, o: AppOptions): void {
  // Daily quotas (jobs per UTC day; 0: none), kept across restarts.
  app.put('/v1/queue/quotas', async (req) => {
    const parsed = quotasBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const option = String(issue.path[0] ?? issue.message);
      throw refuse('bad_quota', `${option}: ${issue.message} (user, guild: ${rangeText(DAILY_QUOTA)})`, {
        option,
      });
    }
    if (!o.service.setQuotas) throw refuse('no_quotas', 'this service keeps no quotas');
    req.log.info({ quotas: parsed.data }, 'admin: quotas');
    return o.service.setQuotas(parsed.data);
  });

  app.get('/v1/queue', async () => o.service.queue());

  app.post('/v1/queue/pause', async (req) => {
    req.log.info('admin: pause');
    return o.service.pause();
  });

  app.post('/v1/queue/resume', async (req) => {
    req.log.info('admin: resume');
    return o.service.resume();
  });

  app.post('/v1/queue/clear', async (req) => {
    req.log.info('admin: clear');
    return o.service.clear();
  });

  app.put('/v1/queue/limits', async (req) => {
    const parsed = limitsBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const option = String(issue.path[0] ?? issue.message);
      throw refuse(
        'bad_limit',
        `${option}: ${issue.message} (per_user ${rangeText(PER_USER_LIMIT)}, max_queued ${rangeText(MAX_QUEUED_LIMIT)})`,
        { option },
      );
    }
    req.log.info({ limits: parsed.data }, 'admin: limits');
    return o.service.setLimits(parsed.data);
  });
}
