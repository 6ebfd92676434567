/**
 * How the HTTP API answers errors: every refusal is JSON `{error, code, …}` with its status.
 * ServiceErrors carry their own status (the catalog, src/service/errors.ts); fastify and multipart
 * errors are mapped here onto codes of the same catalog.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { refuse } from '../service/errors.ts';
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

function answer(err: ServiceError): { status: number; body: ErrorBody } {
  return { status: err.status, body: errorBody(err) };
}

export function mapError(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof ServiceError) return answer(err);
  const e = err as FastifyError;
  switch (e?.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return answer(refuse('file_too_large', 'the upload is larger than the limit'));
    case 'FST_FILES_LIMIT':
      return answer(refuse('too_many_files', 'send exactly one file, named image'));
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return answer(refuse('too_many_fields', 'too many form fields'));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return answer(refuse('unsupported_media_type', 'send multipart/form-data with an image field'));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return answer(refuse('bad_json', 'the body is not valid JSON'));
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: e.message, code: e.code ?? 'bad_request' } };
  }
  return answer(refuse('internal', 'internal error; see the service log'));
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = mapError(err);
  const job = (req.params as { id?: unknown } | undefined)?.id;
  const log = typeof job === 'string' ? req.log.child({ job }) : req.log;
  if (status >= 500) log.error({ err }, 'request failed');
  else log.info({ status, code: body.code }, body.error);
  void reply.code(status).type('application/json').send(body);
}
