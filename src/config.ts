/**
 * Service configuration from the environment, validated once at start (README.md,
 * "Configuration"). Every problem is reported at once, naming the variable.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'bad_config';
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

/** The value `.env.example` ships with: a copied example file must not become a live secret. */
export const PLACEHOLDER_TOKEN = 'change-me-to-a-long-random-string';
export const MIN_TOKEN_LENGTH = 24;

const token = optionalText.superRefine((v, ctx) => {
  if (v === undefined) return;
  if (v === PLACEHOLDER_TOKEN || v.startsWith('change-me'))
    ctx.addIssue({ code: 'custom', message: 'is the .env.example placeholder; set a random secret' });
  else if (v.length < MIN_TOKEN_LENGTH)
    ctx.addIssue({
      code: 'custom',
      message: `is ${v.length} characters; use at least ${MIN_TOKEN_LENGTH} (openssl rand -hex 24)`,
    });
});

/** A host name as the Host header carries it: lower case, without port or IPv6 brackets. */
export function hostName(value: string): string {
  const v = value.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') > 0 ? v.indexOf(']') : undefined);
  if ((v.match(/:/g) ?? []).length > 1) return v; // a bare IPv6 address
  return v.replace(/:\d*$/, '').replace(/\.$/, '');
}

const ARENA_PARTS = ['image_encoder', 'vae_encoder', 'unet', 'vae_decoder'] as const;

/** SVD_CPU_ARENA as SvdEngine.load's `cpuArena`: a boolean, or the parts named (the others off). */
function cpuArenaSetting(
  v: string | undefined,
): boolean | Partial<Record<(typeof ARENA_PARTS)[number], boolean>> | undefined {
  if (v === undefined) return undefined;
  if (['0', '1', 'true', 'false'].includes(v)) return v === '1' || v === 'true';
  return Object.fromEntries(v.split(',').map((p) => [p.trim(), true]));
}

const DEVICES = ['auto', 'cuda', 'cpu'] as const;

/** The engine's memory and thread settings: the sidecar, the worker, the CLI and the benches share them. */
const engineSchema = z.object({
  SVD_DECODE_CHUNK: int(1, 1000).optional(),
  SVD_MEMORY_BUDGET_GB: z.coerce.number().positive().max(100_000).optional(),
  /** 0/1/true/false for every session, or the model parts that get the arena: `unet,image_encoder`. */
  SVD_CPU_ARENA: z
    .string()
    .trim()
    .refine(
      (v) =>
        ['0', '1', 'true', 'false'].includes(v) ||
        v.split(',').every((p) => (ARENA_PARTS as readonly string[]).includes(p.trim())),
      { message: `is 0, 1, true, false or a comma list of ${ARENA_PARTS.join(', ')}` },
    )
    .optional(),
  SVD_THREADS: int(1, 1024).optional(),
});

/** What {@link engineSettings} returns: SvdEngine.load's memory and thread options. */
export interface EngineSettings {
  readonly decodeChunkSize: number | undefined;
  readonly memoryBudgetBytes: number | undefined;
  readonly cpuArena: ReturnType<typeof cpuArenaSetting>;
  readonly threads: number | undefined;
}

/** What every process that runs jobs reads (the sidecar and a worker): the model, the device, the engine, limits, logs. */
export const runnerFields = {
  SVD_MODEL_DIR: optionalText,
  SVD_DEVICE: z.enum(DEVICES).default('auto'),
  ...engineSchema.shape,
  MAX_UPLOAD_MB: z.coerce.number().positive().max(1024).default(20),
  MAX_PIXELS: int(1, 1_000_000_000).default(40_000_000),
  RESULT_TTL_HOURS: z.coerce.number().positive().default(24),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Unset: readable lines when stderr is a terminal, else JSON. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
};

/** What {@link runnerSettings} returns: the settings the sidecar's and a worker's config share. */
export interface RunnerSettings {
  readonly modelDir: string | undefined;
  readonly device: (typeof DEVICES)[number];
  /** SVD_DECODE_CHUNK, SVD_MEMORY_BUDGET_GB, SVD_CPU_ARENA, SVD_THREADS, for SvdEngine.load. */
  readonly engine: EngineSettings;
  readonly maxUploadBytes: number;
  readonly maxPixels: number;
  readonly resultTtlMs: number;
  readonly logLevel: string;
  readonly logFormat: 'json' | 'pretty' | undefined;
}

/** {@link runnerFields} as parsed, in the units the code uses. */
export function runnerSettings(c: z.infer<z.ZodObject<typeof runnerFields>>): RunnerSettings {
  return {
    modelDir: c.SVD_MODEL_DIR,
    device: c.SVD_DEVICE,
    engine: toEngineSettings(c),
    maxUploadBytes: Math.round(c.MAX_UPLOAD_MB * 1_000_000),
    maxPixels: c.MAX_PIXELS,
    resultTtlMs: Math.round(c.RESULT_TTL_HOURS * 3_600_000),
    logLevel: c.LOG_LEVEL,
    logFormat: c.LOG_FORMAT,
  };
}

const schema = z.object({
  ...runnerFields,
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('.data'),
  STILLMOTION_ADMIN_TOKEN: token,
  STILLMOTION_BOT_TOKEN: token,
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** HMAC key of the signed result links (result-links.ts); default: derived from the admin token. */
  RESULT_LINK_SECRET: z.string().trim().min(32, 'at least 32 characters').optional(),
  ALLOWED_HOSTS: optionalText,
  TRUST_PROXY: optionalText,
  SUBMIT_RATE_PER_MINUTE: int(1, 100_000).default(30),
  /** Jobs run at once: one per GPU by default. */
  CONCURRENCY: int(1, 64).default(1),
  PER_USER_LIMIT: int(1, 1000).default(3),
  MAX_QUEUED: int(1, 100_000).default(100),
  DATA_DIR_MAX_MB: z.coerce.number().positive().default(10_240),
  ENGINE_URL: z.url().optional(),
  QUEUE_BACKEND: z.enum(['local', 'redis']).default('local'),
  REDIS_URL: optionalText.refine((v) => v === undefined || /^rediss?:\/\//.test(v), {
    message: 'must be a redis:// or rediss:// URL',
  }),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only')
    .default('stillmotion'),
  /** Jobs accepted per UTC day per user, and per guild (Discord server or Slack workspace); 0: none. */
  DAILY_QUOTA_USER: int(0, 1_000_000).default(0),
  DAILY_QUOTA_GUILD: int(0, 1_000_000).default(0),
  /** Redis mode: MB that waiting pictures and kept results may take in Redis (0: no budget). */
  REDIS_MEMORY_BUDGET_MB: z.coerce.number().min(0).max(1_000_000).default(1024),
  /** Redis mode: MB of the budget kept free for each waiting or running job's result. */
  REDIS_RESULT_RESERVE_MB: z.coerce.number().min(0).max(1024).default(4),
});

function toEngineSettings(c: z.infer<typeof engineSchema>): EngineSettings {
  return Object.freeze({
    decodeChunkSize: c.SVD_DECODE_CHUNK,
    memoryBudgetBytes:
      c.SVD_MEMORY_BUDGET_GB === undefined ? undefined : Math.round(c.SVD_MEMORY_BUDGET_GB * 2 ** 30),
    cpuArena: cpuArenaSetting(c.SVD_CPU_ARENA),
    threads: c.SVD_THREADS,
  });
}

/** The engine settings alone, for the tools that load an engine without the service (CLI, benches). */
export function engineSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): EngineSettings {
  const parsed = engineSchema.safeParse(nonEmpty(env));
  if (!parsed.success) throw configError(parsed.error);
  return toEngineSettings(parsed.data);
}

const toolSchema = engineSchema.extend({
  SVD_MODEL_DIR: optionalText,
  SVD_DEVICE: z.enum(DEVICES).optional(),
});

/** What {@link engineLoadSettings} returns: every SvdEngine.load option the environment sets. */
export interface EngineLoadSettings extends EngineSettings {
  /** SVD_MODEL_DIR; unset: the engine's bundled tiny model. */
  readonly modelDir: string | undefined;
  /** SVD_DEVICE; unset: the tool's own default (auto for the CLI, cpu for parity). */
  readonly device: (typeof DEVICES)[number] | undefined;
}

/**
 * {@link engineSettings} with the model folder and the device, for the tools that load an engine
 * without the service (the CLI, parity, the benches). The engine itself reads no environment.
 */
export function engineLoadSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): EngineLoadSettings {
  const parsed = toolSchema.safeParse(nonEmpty(env));
  if (!parsed.success) throw configError(parsed.error);
  const c = parsed.data;
  return Object.freeze({ ...toEngineSettings(c), modelDir: c.SVD_MODEL_DIR, device: c.SVD_DEVICE });
}

function nonEmpty(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  // Empty strings mean "unset", as in most .env files.
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) as Record<
    string,
    string
  >;
}

function configError(error: z.ZodError): ConfigError {
  const lines = error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  return new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
}

export interface Config extends RunnerSettings {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly adminToken: string | undefined;
  /** STILLMOTION_BOT_TOKEN: trusted (may speak for any user), but no admin routes. */
  readonly botToken: string | undefined;
  /** Where people reach this sidecar from outside (a proxy or tunnel); its host is served. */
  readonly publicUrl: string | undefined;
  /** Key of the signed, expiring result links (RESULT_LINK_SECRET, else derived from the admin token). Never logged. */
  readonly linkSecret: string | undefined;
  /** Host names served besides loopback, the bound HOST and PUBLIC_URL's host. */
  readonly allowedHosts: readonly string[];
  /** fastify's trustProxy: true (any peer), or a comma list of proxy addresses or CIDRs. */
  readonly trustProxy: true | string | undefined;
  /** Submissions per identity per minute, refused or not. */
  readonly submitRatePerMinute: number;
  readonly concurrency: number;
  readonly perUser: number;
  readonly maxQueued: number;
  readonly dataDirMaxBytes: number;
  readonly engineUrl: string | undefined;
  readonly queueBackend: 'local' | 'redis';
  readonly redisUrl: string | undefined;
  /** Key prefix of the shared queue state in Redis (BullMQ's keys: `<prefix>:bull`). */
  readonly redisPrefix: string;
  /** Jobs accepted per UTC day per user (0: no quota), until an admin changes it. */
  readonly dailyQuotaUser: number;
  /** Jobs accepted per UTC day per guild or Slack workspace (0: no quota). */
  readonly dailyQuotaGuild: number;
  /** Bytes that pictures and results may take in Redis before producers refuse jobs (0: none). */
  readonly redisMemoryBudgetBytes: number;
  /** Bytes of that budget kept free per waiting or running job, for its result. */
  readonly redisResultReserveBytes: number;
  /** The raw environment, for the bots' own variables (tokens are never logged). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  const h = host.replace(/^\[|\]$/g, '');
  return h === '::1' || h.startsWith('::ffff:127.');
}

/** Reads and checks the configuration; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const parsed = schema.safeParse(nonEmpty(env));
  if (!parsed.success) throw configError(parsed.error);
  const c = parsed.data;
  if (!isLoopback(c.HOST) && !c.STILLMOTION_ADMIN_TOKEN) {
    throw new ConfigError(
      `invalid configuration:\n  HOST: refusing to bind ${c.HOST} (not loopback) without STILLMOTION_ADMIN_TOKEN`,
    );
  }
  if (c.STILLMOTION_BOT_TOKEN && c.STILLMOTION_BOT_TOKEN === c.STILLMOTION_ADMIN_TOKEN) {
    throw new ConfigError(
      'invalid configuration:\n  STILLMOTION_BOT_TOKEN: must differ from STILLMOTION_ADMIN_TOKEN',
    );
  }
  if (c.QUEUE_BACKEND === 'redis' && !c.REDIS_URL) {
    throw new ConfigError('invalid configuration:\n  REDIS_URL: required when QUEUE_BACKEND=redis');
  }
  return Object.freeze({
    ...runnerSettings(c),
    port: c.PORT,
    host: c.HOST,
    dataDir: path.resolve(c.DATA_DIR),
    adminToken: c.STILLMOTION_ADMIN_TOKEN,
    botToken: c.STILLMOTION_BOT_TOKEN,
    publicUrl: c.PUBLIC_URL,
    linkSecret:
      c.RESULT_LINK_SECRET ??
      (c.STILLMOTION_ADMIN_TOKEN
        ? createHmac('sha256', c.STILLMOTION_ADMIN_TOKEN)
            .update('stillmotion result links')
            .digest('base64url')
        : undefined),
    allowedHosts: (c.ALLOWED_HOSTS ?? '')
      .split(',')
      .map((h) => hostName(h))
      .filter(Boolean),
    trustProxy: parseTrustProxy(c.TRUST_PROXY),
    submitRatePerMinute: c.SUBMIT_RATE_PER_MINUTE,
    concurrency: c.CONCURRENCY,
    perUser: c.PER_USER_LIMIT,
    maxQueued: c.MAX_QUEUED,
    dataDirMaxBytes: Math.round(c.DATA_DIR_MAX_MB * 1_000_000),
    engineUrl: c.ENGINE_URL,
    queueBackend: c.QUEUE_BACKEND,
    redisUrl: c.REDIS_URL,
    redisPrefix: c.REDIS_PREFIX,
    dailyQuotaUser: c.DAILY_QUOTA_USER,
    dailyQuotaGuild: c.DAILY_QUOTA_GUILD,
    redisMemoryBudgetBytes: Math.round(c.REDIS_MEMORY_BUDGET_MB * 1_000_000),
    redisResultReserveBytes: Math.round(c.REDIS_RESULT_RESERVE_MB * 1_000_000),
    env,
  });
}

function parseTrustProxy(v: string | undefined): true | string | undefined {
  if (v === undefined || /^(false|0|no|off)$/i.test(v)) return undefined;
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  return v;
}

/** glibc's fixed mmap threshold the entry points start with (src/malloc-tuning.ts): 4 MiB. */
export const MMAP_THRESHOLD_BYTES = 4 * 2 ** 20;
/** Set beside it when stillmotion started the process again, so the tuning stays out of its children. */
export const MALLOC_TUNED_MARK = 'STILLMOTION_MALLOC_TUNED';

/**
 * The environment to start this process again with, or undefined when it already runs as it should:
 * on Linux, without a MALLOC_MMAP_THRESHOLD_ of the user's (theirs is kept), with the threshold fixed
 * at {@link MMAP_THRESHOLD_BYTES}. malloc-tuning.ts says why.
 */
export function mallocRelaunchEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  platform: NodeJS.Platform = process.platform,
): Record<string, string> | undefined {
  if (platform !== 'linux' || env.MALLOC_MMAP_THRESHOLD_ !== undefined || env[MALLOC_TUNED_MARK])
    return undefined;
  const next = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  return { ...next, MALLOC_MMAP_THRESHOLD_: String(MMAP_THRESHOLD_BYTES), [MALLOC_TUNED_MARK]: '1' };
}

/** After the start again: takes the tuning out of the environment the process's children inherit. */
export function forgetMallocTuning(env: Record<string, string | undefined> = process.env): void {
  if (env[MALLOC_TUNED_MARK] !== '1') return;
  delete env.MALLOC_MMAP_THRESHOLD_;
  delete env[MALLOC_TUNED_MARK];
}
