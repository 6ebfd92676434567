/**
 * The playground's session: a random id in an HttpOnly, SameSite=Strict cookie, set when the page
 * is served. An anonymous caller that sends it acts as `web:<session>`; other pages cannot make a
 * browser send it, and scripts cannot read it.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'stillmotion_session';
const SHAPE = /^[A-Za-z0-9_-]{22,64}$/;
const MAX_AGE_S = 30 * 24 * 3600;

export function sessionOf(req: FastifyRequest): string | undefined {
  const value = req.cookies?.[SESSION_COOKIE];
  return typeof value === 'string' && SHAPE.test(value) ? value : undefined;
}

/** Gives the browser a session cookie unless it has one; answers the session id. */
export function ensureSession(req: FastifyRequest, reply: FastifyReply): string {
  const known = sessionOf(req);
  if (known) return known;
  const id = randomBytes(18).toString('base64url');
  reply.setCookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: MAX_AGE_S });
  return id;
}
