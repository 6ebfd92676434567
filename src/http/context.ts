/** What the HTTP layer needs from the process around it. */
import type { OptionTable } from '@stillmotion/engine';
import type { Logger } from '../log.ts';
import type { ModelSummary } from '../service/engine-port.ts';
import type { ServiceMetrics } from '../service/metrics.ts';
import type { ResultLinks } from '../service/result-links.ts';
import type { JobService } from '../service/types.ts';
import type { ResultFile } from './result-route.ts';
import type { StreamLimits } from './sse.ts';

export interface SidecarInfo {
  readonly model: ModelSummary;
  /** True once the engine ran its warm-up step. */
  ready(): boolean;
  provider(): string | undefined;
}

export interface AppOptions {
  readonly service: JobService;
  readonly info: SidecarInfo;
  readonly logger: Logger;
  /** STILLMOTION_ADMIN_TOKEN: the admin routes, and everything a bot may do. */
  readonly adminToken?: string;
  /** STILLMOTION_BOT_TOKEN: trusted (may speak for any user), no admin routes. */
  readonly botToken?: string;
  /** PUBLIC_URL: its host is served, its origin is same-site; anonymous callers are refused. */
  readonly publicUrl?: string;
  /** ALLOWED_HOSTS: more Host names to serve. */
  readonly allowedHosts?: readonly string[];
  /** The address listened on (HOST): a specific one is served as a Host name. */
  readonly bindHost?: string;
  /** TRUST_PROXY, as fastify's trustProxy; set, anonymous callers are refused. */
  readonly trustProxy?: true | string;
  readonly limits?: {
    /** Submissions per identity per minute (default 30). */
    readonly submitsPerMinute?: number;
    readonly streams?: Partial<StreamLimits>;
    /** Time to receive a whole request (default 120 s). */
    readonly requestTimeoutMs?: number;
    /** A socket silent this long is closed (default 90 s; SSE streams send a comment every 15 s). */
    readonly idleTimeoutMs?: number;
  };
  /** Upload limit in bytes (default 20 MB). */
  readonly maxUploadBytes?: number;
  /** Signed result links (PUBLIC_URL): serves `GET /links/:id/result` when set. */
  readonly resultLinks?: ResultLinks;
  readonly metrics?: ServiceMetrics;
  /** Streams results from disk with ranges (the in-process service); else results are read whole. */
  readonly resultFile?: ResultFile;
  /** Serve the playground page at `/` (default true). */
  readonly playground?: boolean;
  /** The option table the form reads and the playground shows (default: the engine's). */
  readonly optionTable?: OptionTable;
}
