/**
 * Mounts Slack's HTTP-mode endpoint on the sidecar's fastify server: POST /slack/events.
 * Bolt must read the raw body itself (its signature check hashes the exact bytes; a body parser in
 * front of it breaks the check), so the route hijacks the reply in `onRequest`, before fastify
 * parses anything, and hands the raw request to Bolt's HTTPReceiver.
 *
 * Routes must exist before fastify listens, while the bot starts after: pass a getter, and the
 * route answers 503 until the bot is up (Slack retries).
 */
import type { FastifyInstance } from 'fastify';
import { EVENTS_PATH } from './app.ts';
import type { SlackBot } from './start.ts';

type Source = Pick<SlackBot, 'requestListener'> | (() => Pick<SlackBot, 'requestListener'> | undefined);

export function mountSlackEvents(server: FastifyInstance, source: Source): void {
  server.route({
    method: 'POST',
    url: EVENTS_PATH,
    onRequest: (req, reply, done) => {
      const listener = (typeof source === 'function' ? source() : source)?.requestListener;
      if (!listener) {
        reply.code(503).send({ error: 'the Slack adapter is not running in HTTP mode (yet)' });
        return;
      }
      reply.hijack();
      listener(req.raw, reply.raw);
      done();
    },
    handler: async () => {
      // Never reached: onRequest answered or hijacked the reply.
    },
  });
}
