/**
 * The playground: one static page at `/` with its script and style. No framework; the page
 * talks to the same job API as everyone else. Serving the page gives the browser its session
 * cookie (src/http/session.ts): the jobs it submits are `web:<session>`'s.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ensureSession } from '../http/session.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

const FILES = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/playground.js': { file: 'playground.js', type: 'text/javascript; charset=utf-8' },
  '/playground.css': { file: 'playground.css', type: 'text/css; charset=utf-8' },
} as const;

export function registerPlayground(app: FastifyInstance, _o: unknown): void {
  for (const [route, { file, type }] of Object.entries(FILES)) {
    const body = readFileSync(path.join(here, file));
    app.get(route, async (req, reply) => {
      if (route === '/') ensureSession(req, reply);
      return reply
        .type(type)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
        .send(body);
    });
  }
}
