/** What the HTTP layer needs from the process around it. */
import type { Logger } from '../log.ts';
import type { ModelSummary } from '../service/engine-port.ts';
import type { ServiceMetrics } from '../service/metrics.ts';
import type { JobService } from '../service/types.ts';
import type { ResultFile } from './result-route.ts';

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
  readonly adminToken?: string;
  /** Upload limit in bytes (default 20 MB). */
  readonly maxUploadBytes?: number;
  readonly metrics?: ServiceMetrics;
  /** Streams results from disk with ranges (the in-process service); else results are read whole. */
  readonly resultFile?: ResultFile;
  /** Serve the playground page at `/` (default true). */
  readonly playground?: boolean;
}
