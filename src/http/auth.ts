/**
 * Who is calling (SECURITY.md, "The sidecar: who is calling"): the admin token, the narrower bot token, or
 * nobody. Anonymous callers act as themselves only (`web:<session>` for a playground session,
 * else `http:<ip>`) and are served from loopback only, and never when a public URL or a proxy is
 * configured. Nothing else grants rights.
 *
 * The checks are route hooks (see app.ts): they run on the route fastify matched, so the URL's
 * spelling (`/v1/%71ueue`) cannot route around them.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isLoopback } from '../config.ts';
import { refuse } from '../service/errors.ts';
import type { UserId } from '../service/types.ts';
import { sessionOf } from './session.ts';

export interface Caller {
  /** admin: STILLMOTION_ADMIN_TOKEN; trusted: STILLMOTION_BOT_TOKEN; anonymous: no token. */
  readonly kind: 'admin' | 'trusted' | 'anonymous';
  /** Who an anonymous caller is; for token holders, which token (for per-caller caps). */
  readonly identity: UserId;
  /** A Bearer token was sent that is neither token. */
  readonly badToken: boolean;
}

export interface AccessPolicy {
  readonly adminToken?: string;
  readonly botToken?: string;
  /** PUBLIC_URL or TRUST_PROXY is set: the peer address grants nothing. */
  readonly publicMode: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

function tokenMatches(given: string, token: string | undefined): boolean {
  if (!token) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function identify(req: FastifyRequest, p: AccessPolicy): Caller {
  const header = req.headers.authorization;
  if (typeof header === 'string' && header !== '') {
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
    if (tokenMatches(given, p.adminToken)) return { kind: 'admin', identity: 'token:admin', badToken: false };
    if (tokenMatches(given, p.botToken)) return { kind: 'trusted', identity: 'token:bot', badToken: false };
    return { kind: 'anonymous', identity: anonymousIdentity(req), badToken: true };
  }
  return { kind: 'anonymous', identity: anonymousIdentity(req), badToken: false };
}

function anonymousIdentity(req: FastifyRequest): UserId {
  const session = sessionOf(req);
  return session ? `web:${session}` : `http:${req.ip}`;
}

export const isTrusted = (c: Caller): boolean => c.kind !== 'anonymous';

/** The peer is this machine, and no proxy or public URL makes that meaningless. */
export function peerIsLocal(req: FastifyRequest, p: AccessPolicy): boolean {
  return !p.publicMode && isLoopback(req.socket.remoteAddress ?? '');
}

/** `onRequest` hook of every `/v1` route: a token, or an anonymous caller on loopback. */
export function apiAccess(p: AccessPolicy) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const c = req.caller;
    if (c.badToken) throw refuse('unauthorized', 'the Bearer token is not valid');
    if (c.kind !== 'anonymous' || peerIsLocal(req, p)) return;
    throw refuse(
      'unauthorized',
      p.publicMode
        ? 'this sidecar is public (PUBLIC_URL or TRUST_PROXY): every /v1 route needs the Bearer token'
        : 'job routes need the Bearer token when called from another host',
    );
  };
}

/** `onRequest` hook of the admin routes (and of /metrics off loopback): the admin token, always. */
export function adminAccess(p: AccessPolicy) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (req.caller.kind === 'admin') return;
    throw refuse(
      'unauthorized',
      p.adminToken
        ? 'this route needs the admin Bearer token (STILLMOTION_ADMIN_TOKEN)'
        : 'admin routes are off: set STILLMOTION_ADMIN_TOKEN',
    );
  };
}

/** Anonymous callers may not speak for others: `user`, `delivery`, `?user=`, `delivered`. */
export function requireTrusted(c: Caller | boolean, what: string, option?: string): void {
  if (typeof c === 'boolean' ? c : isTrusted(c)) return;
  throw refuse('forbidden', `${what} needs the Bearer token (a bot or an admin)`, { option });
}

/** Whether the caller may see this job: token holders see every job, anonymous ones their own. */
export function maySee(c: Caller, owner: UserId): boolean {
  return isTrusted(c) || c.identity === owner;
}
