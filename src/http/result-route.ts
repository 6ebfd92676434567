/**
 * `GET /v1/jobs/:id/result`: the video, with byte ranges so a `<video>` element can seek.
 * Before success it answers 409 `{state}`.
 */
import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_STATUS, noSuchJob, refuse } from '../service/errors.ts';
import type { ResultLinks } from '../service/result-links.ts';
import type { JobService } from '../service/types.ts';

export type ResultFile = (id: string) => { path: string; bytes: number; format: 'mp4' | 'gif' };

const TYPES = { mp4: 'video/mp4', gif: 'image/gif' } as const;

export async function sendResult(
  service: JobService,
  resultFile: ResultFile | undefined,
  id: string,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const job = await service.get(id);
  if (!job) throw noSuchJob(id);
  if (job.state !== 'succeeded') {
    return reply.code(ERROR_STATUS.not_ready).send({
      error: `job ${id} is ${job.state}; the result is not ready`,
      code: 'not_ready',
      state: job.state,
    });
  }
  const name = `stillmotion-${id}.${job.format}`;
  reply
    .type(TYPES[job.format])
    .header('content-disposition', `inline; filename="${name}"`)
    .header('cache-control', 'private, max-age=3600');
  if (!resultFile) return reply.send(await service.result(id));

  const file = resultFile(id);
  reply.header('accept-ranges', 'bytes');
  const range = parseRange(req.headers.range, file.bytes);
  if (range === 'invalid') {
    return reply
      .code(ERROR_STATUS.bad_range)
      .header('content-range', `bytes */${file.bytes}`)
      .type('application/json')
      .send({ error: 'bad range', code: 'bad_range' });
  }
  if (range) {
    return reply
      .code(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${file.bytes}`)
      .header('content-length', range.end - range.start + 1)
      .send(createReadStream(file.path, range));
  }
  return reply.header('content-length', file.bytes).send(createReadStream(file.path));
}

/**
 * `GET /links/:id/result?exp=…&sig=…`: the result behind a signed link, to anyone holding it, until
 * it expires (403 `bad_signature` / `link_expired` otherwise).
 */
export function registerSignedResultRoute(
  app: FastifyInstance,
  service: JobService,
  resultFile: ResultFile | undefined,
  links: ResultLinks,
): void {
  app.get('/links/:id/result', async (req, reply) => {
    const id = (req.params as { id?: unknown }).id;
    const q = req.query as Record<string, unknown>;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw refuse('not_found', 'no such job');
    const check = links.check(id, q.exp, q.sig);
    if (check === 'bad')
      throw refuse('bad_signature', 'this link is not valid (it was changed or is incomplete)');
    if (check === 'expired') throw refuse('link_expired', 'this link has expired; ask for the video again');
    return sendResult(service, resultFile, id, req, reply);
  });
}

function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'invalid' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}
