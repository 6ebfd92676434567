/**
 * Who is calling: the admin Bearer token (STILLMOTION_ADMIN_TOKEN), and whether the peer is on
 * loopback. Job routes need no token on loopback; admin routes always need it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { isLoopback } from '../config.ts';
import { ServiceError } from '../service/types.ts';

export function bearerMatches(req: FastifyRequest, token: string | undefined): boolean {
  if (!token) return false;
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice('Bearer '.length).trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function fromLoopback(req: FastifyRequest): boolean {
  return isLoopback(req.socket.remoteAddress ?? req.ip);
}

/** Admin routes: the Bearer token, always. */
export function requireAdmin(req: FastifyRequest, token: string | undefined): void {
  if (!bearerMatches(req, token)) {
    throw new ServiceError(
      401,
      'unauthorized',
      token
        ? 'admin routes need the Bearer token (STILLMOTION_ADMIN_TOKEN)'
        : 'admin routes are off: set STILLMOTION_ADMIN_TOKEN',
    );
  }
}

/** Job routes: free on loopback, else the Bearer token. */
export function requireJobAccess(req: FastifyRequest, token: string | undefined): void {
  if (fromLoopback(req) || bearerMatches(req, token)) return;
  throw new ServiceError(
    401,
    'unauthorized',
    'job routes need the Bearer token when called from another host',
  );
}
