/**
 * `GET /v1/jobs/:id/events`: Server-Sent Events with the job view on every change (`event: job`),
 * ending after the job ends, and `event: preview` with `{"step": N}` whenever a newer live preview
 * is at `GET /v1/jobs/:id/preview`. A comment line every 15 s keeps proxies from closing an idle stream.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobService, JobView } from '../service/types.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

export async function streamJob(
  service: JobService,
  id: string,
  req: FastifyRequest,
  reply: FastifyReply,
  first: JobView,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let last = '';
  let previewStep = 0;
  let done = false;
  const send = (view: JobView) => {
    if (done) return;
    const text = JSON.stringify(view);
    if (text === last) return;
    last = text;
    res.write(`event: job\ndata: ${text}\n\n`);
    if ((view.preview_step ?? 0) > previewStep) {
      previewStep = view.preview_step!;
      res.write(`event: preview\ndata: ${JSON.stringify({ step: previewStep })}\n\n`);
    }
    if (TERMINAL.has(view.state)) finish();
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const unsubscribe = service.subscribe(id, send);
  function finish(): void {
    if (done) return;
    done = true;
    clearInterval(heartbeat);
    unsubscribe();
    res.end();
  }
  req.raw.on('close', finish);
  // The state may have moved between the caller's read and the subscription.
  send(first);
  const now = await service.get(id);
  if (now) send(now);
}
