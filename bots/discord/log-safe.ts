/**
 * Errors as logged by the adapter. discord.js API errors carry the request URL, and interaction
 * webhook URLs contain the interaction token: keep name, message, code, status and stack only.
 */
export function safeErr(err: unknown): Record<string, unknown> | string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: unknown; status?: unknown; method?: unknown };
  return {
    type: e.name,
    message: e.message
      .replace(/\/webhooks\/\d+\/[^/\s]+/g, '/webhooks/:app/:token')
      .replace(/\/interactions\/\d+\/[^/\s]+/g, '/interactions/:id/:token'),
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.status !== undefined ? { status: e.status } : {}),
    ...(e.method !== undefined ? { method: e.method } : {}),
    stack: e.stack?.split('\n').slice(1, 6).join('\n'),
  };
}
