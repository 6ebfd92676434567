/**
 * JobService over HTTP, for bots that talk to a remote sidecar (ENGINE_URL). Speaks exactly the
 * sidecar's public API; refusals come back as the same ServiceErrors.
 */
import type { AnimateOptionsInput } from '@stillmotion/engine';
import type { ModelSummary } from './engine-port.ts';
import { noSuchJob, refuse } from './errors.ts';
import { ownedJob } from './job-lifecycle.ts';
import { lostView } from './job-view.ts';
import type { DailyQuotas, QuotaUsage } from './quota.ts';
import {
  type Actor,
  type DeliveryTarget,
  type JobService,
  type JobView,
  type QueueLimits,
  type QueueView,
  ServiceError,
  type StoredPreview,
  type SubmitRequest,
  TERMINAL,
  type UserId,
} from './types.ts';

export interface HttpJobServiceOptions {
  /** Base URL of the sidecar, e.g. http://gpu-box:8080 */
  readonly baseUrl: string;
  /**
   * The token sent on job calls: STILLMOTION_BOT_TOKEN, or STILLMOTION_ADMIN_TOKEN. Without one
   * the sidecar takes this client for an anonymous local caller, which cannot speak for users.
   */
  readonly token?: string;
  /** STILLMOTION_ADMIN_TOKEN, for the admin routes and admins' cancels (default: `token`). */
  readonly adminToken?: string;
  /** Per-request timeout (default 30 s; streams are not limited). */
  readonly timeoutMs?: number;
}

export interface RemoteModel extends ModelSummary {
  readonly provider: string | null;
  readonly ready: boolean;
}

export class HttpJobService implements JobService {
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #adminToken: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: HttpJobServiceOptions) {
    this.#base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
    this.#token = options.token ?? options.adminToken;
    this.#adminToken = options.adminToken ?? options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  async #fetch(path: string, init: RequestInit = {}, stream = false, admin = false): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = admin ? this.#adminToken : this.#token;
    if (token) headers.set('authorization', `Bearer ${token}`);
    let res: Response;
    try {
      res = await fetch(new URL(path, this.#base), {
        ...init,
        headers,
        signal: init.signal ?? (stream ? undefined : AbortSignal.timeout(this.#timeoutMs)),
      });
    } catch (err) {
      throw refuse(
        'engine_unreachable',
        `the GPU service at ${this.#base} cannot be reached (${(err as Error).message})`,
      );
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: string; code?: string; option?: string };
      throw new ServiceError(
        res.status,
        body.code ?? 'http_error',
        body.error ?? `${res.status} ${res.statusText}`,
        {
          option: body.option,
        },
      );
    }
    return res;
  }

  async #json<T>(path: string, init?: RequestInit, admin = false): Promise<T> {
    return (await (await this.#fetch(path, init, false, admin)).json()) as T;
  }

  async model(): Promise<RemoteModel> {
    const m = await this.#json<Record<string, unknown>>('v1/model');
    return {
      name: m.name as string,
      randomWeights: m.random_weights as boolean,
      frames: m.frames as number,
      width: m.width as number,
      height: m.height as number,
      fps: m.fps as number,
      motion: m.motion as number,
      steps: m.steps as number,
      guidance: m.guidance as [number, number],
      maxSteps: m.max_steps as number,
      steerable: m.steerable === true,
      provider: (m.provider as string | null) ?? null,
      ready: m.ready as boolean,
    };
  }

  async describeModel(): Promise<ModelSummary> {
    const { provider: _provider, ready: _ready, ...model } = await this.model();
    return model;
  }

  async submit(req: SubmitRequest): Promise<{ id: string; position: number }> {
    // Who it is for comes first: the sidecar then refuses a user over the caps before the picture.
    const form = new FormData();
    form.append('user', req.user);
    if (req.delivery) form.append('delivery', JSON.stringify(req.delivery));
    for (const [name, value] of Object.entries(req.options as AnimateOptionsInput)) {
      if (value === undefined) continue;
      form.append(name, Array.isArray(value) ? `${value[0]}-${value[1]}` : String(value));
    }
    form.append('image', new Blob([new Uint8Array(req.image)]), 'image');
    return this.#json('v1/jobs', { method: 'POST', body: form });
  }

  async get(id: string): Promise<JobView | undefined> {
    try {
      return await this.#json<JobView>(`v1/jobs/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof ServiceError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list(user: UserId): Promise<readonly JobView[]> {
    return (await this.#json<{ jobs: JobView[] }>(`v1/jobs?user=${encodeURIComponent(user)}`)).jobs;
  }

  async cancel(id: string, actor: Actor): Promise<JobView> {
    const job = ownedJob(await this.get(id), id, actor);
    if (TERMINAL.has(job.state)) return job;
    return this.#json<JobView>(this.#deletePath(id, actor), { method: 'DELETE' }, actor.admin);
  }

  #deletePath(id: string, actor: Actor): string {
    return actor.admin
      ? `v1/jobs/${encodeURIComponent(id)}`
      : `v1/jobs/${encodeURIComponent(id)}?user=${encodeURIComponent(actor.user)}`;
  }

  subscribe(id: string, listener: (job: JobView) => void): () => void {
    const stop = new AbortController();
    void this.#follow(id, listener, stop.signal);
    return () => stop.abort();
  }

  /** Reads the SSE stream; reconnects (with a short pause) until the job ends or the caller stops. */
  async #follow(id: string, listener: (job: JobView) => void, signal: AbortSignal): Promise<void> {
    let ended = false;
    let last: JobView | undefined;
    while (!signal.aborted && !ended) {
      try {
        const res = await this.#fetch(`v1/jobs/${encodeURIComponent(id)}/events`, { signal }, true);
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut = buffer.indexOf('\n\n');
          while (cut >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trimStart())
              .join('\n');
            if (data) {
              const view = JSON.parse(data) as JobView;
              last = view;
              listener(view);
              if (TERMINAL.has(view.state)) ended = true;
            }
            cut = buffer.indexOf('\n\n');
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        // The job vanished while watched (its queue store lost it): end with a final message.
        if (err instanceof ServiceError && err.status === 404) {
          if (last) listener(lostView(last));
          return;
        }
      }
      if (!ended && !signal.aborted) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async preview(id: string): Promise<StoredPreview | undefined> {
    try {
      const res = await this.#fetch(`v1/jobs/${encodeURIComponent(id)}/preview`);
      return {
        step: Number(res.headers.get('x-preview-step') ?? 0),
        type: 'image/webp',
        data: Buffer.from(await res.arrayBuffer()),
      };
    } catch (err) {
      if (err instanceof ServiceError && err.status === 404) return undefined;
      throw err;
    }
  }

  async result(id: string): Promise<Buffer> {
    const res = await this.#fetch(`v1/jobs/${encodeURIComponent(id)}/result`, {}, true);
    return Buffer.from(await res.arrayBuffer());
  }

  async deleteResult(id: string, actor: Actor): Promise<void> {
    const job = await this.get(id);
    if (!job) throw noSuchJob(id);
    if (!TERMINAL.has(job.state)) throw refuse('not_ended', `job ${id} is ${job.state}; cancel it first`);
    await this.#fetch(this.#deletePath(id, actor), { method: 'DELETE' }, false, actor.admin);
  }

  async markDelivered(id: string): Promise<void> {
    await this.#fetch(`v1/jobs/${encodeURIComponent(id)}/delivered`, { method: 'POST' });
  }

  async undelivered(): Promise<readonly JobView[]> {
    return (await this.#json<{ jobs: JobView[] }>('v1/jobs?undelivered=1')).jobs;
  }

  async queue(): Promise<QueueView> {
    return this.#json('v1/queue', {}, true);
  }

  async pause(): Promise<{ paused: boolean }> {
    return this.#json('v1/queue/pause', { method: 'POST' }, true);
  }

  async resume(): Promise<{ paused: boolean }> {
    return this.#json('v1/queue/resume', { method: 'POST' }, true);
  }

  async clear(): Promise<{ canceled: number }> {
    return this.#json('v1/queue/clear', { method: 'POST' }, true);
  }

  async setLimits(limits: Partial<QueueLimits>): Promise<QueueLimits> {
    return this.#json(
      'v1/queue/limits',
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(limits),
      },
      true,
    );
  }

  async setQuotas(quotas: Partial<DailyQuotas>): Promise<DailyQuotas> {
    return this.#json('v1/queue/quotas', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(quotas),
    });
  }

  async quotaLeft(user: UserId, delivery?: DeliveryTarget): Promise<QuotaUsage> {
    const guild =
      typeof delivery?.guildId === 'string' ? `&guild=${encodeURIComponent(delivery.guildId)}` : '';
    return this.#json(`v1/quota?user=${encodeURIComponent(user)}${guild}`);
  }
}
