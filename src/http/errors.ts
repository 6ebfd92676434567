/**
 * One error catalog for the HTTP API: every refusal is JSON `{error, code, …}` with its status.
 * ServiceErrors carry their own status; fastify and multipart errors are mapped here.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError } from '../service/types.ts';

export interface ErrorBody {
  readonly error: string;
  readonly code: string;
  readonly option?: string;
  readonly state?: string;
}

export function errorBody(err: ServiceError, extra: Record<string, unknown> = {}): ErrorBody {
  return { error: err.message, code: err.code, ...(err.option ? { option: err.option } : {}), ...extra };
}

export function mapError(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof ServiceError) return { status: err.status, body: errorBody(err) };
  const e = err as FastifyError;
  switch (e?.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { error: 'the upload is larger than the limit', code: 'file_too_large' } };
    case 'FST_FILES_LIMIT':
      return { status: 400, body: { error: 'send exactly one file, named image', code: 'too_many_files' } };
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return { status: 400, body: { error: 'too many form fields', code: 'too_many_fields' } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return {
        status: 415,
        body: { error: 'send multipart/form-data with an image field', code: 'unsupported_media_type' },
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'the body is not valid JSON', code: 'bad_json' } };
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: e.message, code: e.code ?? 'bad_request' } };
  }
  return { status: 500, body: { error: 'internal error; see the service log', code: 'internal' } };
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = mapError(err);
  const job = (req.params as { id?: unknown } | undefined)?.id;
  const log = typeof job === 'string' ? req.log.child({ job }) : req.log;
  if (status >= 500) log.error({ err }, 'request failed');
  else log.info({ status, code: body.code }, body.error);
  void reply.code(status).type('application/json').send(body);
}
