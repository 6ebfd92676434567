/**
 * Host and Origin rules (SECURITY.md, "The sidecar: who is calling"). Only Host names this sidecar serves
 * are answered (loopback names and addresses, the bound HOST, the host of PUBLIC_URL and
 * ALLOWED_HOSTS): a DNS-rebinding page arrives with its own name and gets 421. A state-changing
 * request from a page of another origin (`Origin`, or `Sec-Fetch-Site: cross-site`) gets 403, so a
 * cross-site form post cannot submit, cancel or pause. No CORS headers are ever sent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hostName, isLoopback } from '../config.ts';
import { refuse } from '../service/errors.ts';
import type { ServiceError } from '../service/types.ts';

export interface SitePolicy {
  /** The address the server binds (a specific one is served as a Host too). */
  readonly bindHost?: string;
  readonly publicUrl?: string;
  readonly allowedHosts?: readonly string[];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const WILDCARD_BINDS = new Set(['0.0.0.0', '::', '']);

export function siteGuard(p: SitePolicy) {
  const served = new Set(p.allowedHosts ?? []);
  if (p.bindHost && !WILDCARD_BINDS.has(hostName(p.bindHost))) served.add(hostName(p.bindHost));
  const publicOrigin = p.publicUrl ? new URL(p.publicUrl).origin : undefined;
  if (p.publicUrl) served.add(hostName(new URL(p.publicUrl).host));
  const hostServed = (name: string) => isLoopback(name) || served.has(name);

  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const host = req.headers.host ?? '';
    const name = hostName(host);
    if (!name || !hostServed(name)) {
      throw refuse(
        'host_not_served',
        `this sidecar does not serve the host "${name.slice(0, 100)}" (add it to ALLOWED_HOSTS or PUBLIC_URL)`,
      );
    }
    if (SAFE_METHODS.has(req.method)) return;
    if (req.headers['sec-fetch-site'] === 'cross-site') throw crossSite();
    const origin = req.headers.origin;
    if (origin === undefined) return; // not a browser page: tools, bots, Slack
    if (origin === publicOrigin || sameOrigin(origin, host)) return;
    throw crossSite();
  };
}

function sameOrigin(origin: string, host: string): boolean {
  try {
    const o = new URL(origin);
    return (
      (o.protocol === 'http:' || o.protocol === 'https:') && o.host === new URL(`${o.protocol}//${host}`).host
    );
  } catch {
    return false; // "null" (a sandboxed frame, a file:// page) and garbage are foreign
  }
}

function crossSite(): ServiceError {
  return refuse('cross_site', 'requests from other web pages are refused');
}
