/**
 * The attacks of issue 10 against a checkout's own sidecar code, as a table: what each one got
 * and what it did. Run it on two checkouts to compare them (read-only: it only imports them).
 *
 *   node bench/attack-matrix.ts [--root /path/to/checkout]   (default: this checkout)
 *
 * Real sidecar (tiny model, not warmed: jobs wait), real HTTP on loopback with raw paths; the
 * remote-peer cases use app.inject's remoteAddress. Prints one JSON object on stdout.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { root: { type: 'string' } } });
const root = path.resolve(values.root ?? path.join(import.meta.dirname, '..'));
const harness = await import(path.join(root, 'test/http/harness.ts'));
const { buildApp } = await import(path.join(root, 'src/http/app.ts'));
const { loadConfig } = await import(path.join(root, 'src/config.ts'));
const { lockDataDir } = await import(path.join(root, 'src/service/data-lock.ts'));
const { describeFailure } = await import(path.join(root, 'src/service/failure.ts'));
const { VideoError } = await import(path.join(root, 'engine/src/index.ts'));

const TOKEN: string = harness.ADMIN_TOKEN;
const h = await harness.startHarness({ perUser: 1 }, { warm: false });
const service = h.sidecar.service;
const url = new URL(h.url);
const image: Buffer = await harness.png();

function raw(method: string, p: string, headers: Record<string, string> = {}, body?: Buffer | string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path: p, headers, agent: false },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const B = 'attack-boundary';
function form(fields: Record<string, string>, withImage = true): { body: Buffer; type: string } {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  if (withImage) {
    parts.push(
      Buffer.from(
        `--${B}\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      image,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${B}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${B}` };
}
const post = (fields: Record<string, string>, headers: Record<string, string> = {}) => {
  const f = form({ frames: '2', steps: '1', ...fields });
  return raw('POST', '/v1/jobs', { 'content-type': f.type, ...headers }, f.body);
};
const code = (text: string) => {
  try {
    return (JSON.parse(text) as { code?: string }).code;
  } catch {
    return undefined;
  }
};

const out: Record<string, unknown> = {};
const admin = { authorization: `Bearer ${TOKEN}` };

// 1. Admin routes through an encoded path.
out['GET /v1/%71ueue (no token)'] = (await raw('GET', '/v1/%71ueue')).status;
const pause = await raw('POST', '/v1/%71ueue/pause');
out['POST /v1/%71ueue/pause (no token)'] = {
  status: pause.status,
  paused_after: (await service.queue()).paused,
};
await service.resume();
const limits = await raw(
  'PUT',
  '/v1/%71ueue/limits',
  { 'content-type': 'application/json' },
  '{"per_user":999}',
);
out['PUT /v1/%71ueue/limits (no token)'] = {
  status: limits.status,
  per_user_after: (await service.queue()).limits.per_user,
};
await service.setLimits({ per_user: 1 });
out['POST /v1/%71ueue/clear (no token)'] = (await raw('POST', '/v1/%71ueue/clear')).status;

// 2. Web pages.
const cross = await post({}, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
out['cross-site form POST /v1/jobs'] = { status: cross.status, code: code(cross.text) };
for (const job of await service.list('http:127.0.0.1'))
  await service.cancel(job.id, { user: 'x', admin: true });
out['rebinding GET /v1/jobs?undelivered=1 (Host: evil.example)'] = (
  await raw('GET', '/v1/jobs?undelivered=1', { host: 'evil.example' })
).status;

// 3. Identities.
const forged = await post({ user: 'discord:42', delivery: '{"channel":"C-attacker"}' });
out['anonymous POST with user=discord:42 + delivery'] = {
  status: forged.status,
  jobs_of_discord_42: (await service.list('discord:42')).length,
};
for (const job of await service.list('discord:42')) await service.cancel(job.id, { user: 'x', admin: true });
const victim = await service.submit({ image, options: { frames: 2, steps: 1 }, user: 'slack:T1:U1' });
out['anonymous GET of another user’s job'] = (await raw('GET', `/v1/jobs/${victim.id}`)).status;
out['anonymous GET /v1/jobs?undelivered=1'] = (await raw('GET', '/v1/jobs?undelivered=1')).status;
out['anonymous POST /v1/jobs/:id/delivered of another user’s job'] = (
  await raw('POST', `/v1/jobs/${victim.id}/delivered`)
).status;
const del = await raw('DELETE', `/v1/jobs/${victim.id}`);
out['anonymous DELETE of another user’s job'] = {
  status: del.status,
  state_after: (await service.get(victim.id))?.state,
};
const inject = async (extra: Record<string, unknown>, req: Record<string, unknown>) => {
  const app = await buildApp({
    service,
    info: { model: service.model, ready: () => false, provider: () => undefined },
    logger: h.app.log,
    adminToken: TOKEN,
    metrics: h.sidecar.metrics,
    ...extra,
  });
  const res = await app.inject(req);
  await app.close();
  return res.statusCode;
};
out['PUBLIC_URL set: anonymous loopback GET /v1/jobs'] = await inject(
  { publicUrl: 'https://gpu.example.org' },
  { method: 'GET', url: '/v1/jobs', headers: { host: '127.0.0.1' } },
);
out['GET /metrics from 10.1.2.3 (no token)'] = await inject(
  {},
  { method: 'GET', url: '/metrics', remoteAddress: '10.1.2.3' },
);

// 4. Cheap refusals: a 20 MB upload over the cap, of which only the first 64 KiB are ever sent.
await service
  .submit({ image, options: { frames: 2, steps: 1 }, user: 'http:127.0.0.1' })
  .catch(() => undefined);
out['upload over the cap, body never finished'] = await new Promise((resolve) => {
  const t0 = performance.now();
  const socket = connect(Number(url.port), url.hostname);
  let text = '';
  const timer = setTimeout(() => {
    socket.destroy();
    resolve('no answer within 3 s (waits for the whole body)');
  }, 3000);
  socket.on('data', (d) => {
    text += d.toString();
    clearTimeout(timer);
    socket.destroy();
    resolve(`${text.split('\r\n')[0]} after ${Math.round(performance.now() - t0)} ms`);
  });
  socket.on('error', () => {});
  socket.write(
    `POST /v1/jobs HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: multipart/form-data; boundary=${B}\r\nContent-Length: 20000000\r\n\r\n`,
  );
  socket.write(`--${B}\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\n\r\n`);
  socket.write(Buffer.alloc(65_536, 7));
});
const streams: number[] = [];
const mine = (await service.list('http:127.0.0.1')).find((j: { state: string }) => j.state === 'queued');
const open: AbortController[] = [];
for (let i = 0; i < 40 && mine; i++) {
  const abort = new AbortController();
  open.push(abort);
  const res = await fetch(new URL(`v1/jobs/${mine.id}/events`, h.url), { signal: abort.signal }).catch(
    () => undefined,
  );
  streams.push(res?.status ?? 0);
}
out['40 SSE streams from one anonymous caller: accepted'] = streams.filter((s) => s === 200).length;
for (const a of open) a.abort();
const big = await post({ delivery: JSON.stringify({ pad: 'x'.repeat(20_000) }) }, admin);
out['20 KB delivery field (token)'] = { status: big.status, code: code(big.text) };

// 5. Secrets.
const starts = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return 'starts';
  } catch (err) {
    return `refused: ${(err as Error).message.split('\n')[1]?.trim()}`;
  }
};
out['STILLMOTION_ADMIN_TOKEN=short'] = starts({ STILLMOTION_ADMIN_TOKEN: 'short' });
const placeholder = /^STILLMOTION_ADMIN_TOKEN=(.*)$/m.exec(
  readFileSync(path.join(root, '.env.example'), 'utf8'),
)![1]!;
out['STILLMOTION_ADMIN_TOKEN=<.env.example placeholder>'] = starts({ STILLMOTION_ADMIN_TOKEN: placeholder });

// 6. Internals in errors.
out['failure reason for an ffmpeg error'] = describeFailure(
  new VideoError('ffmpeg failed: /srv/.data/results/x.mp4: Permission denied\n[libx264 @ 0x5] error'),
  'job1',
).message;

// 7. The DATA_DIR lock, owner killed with -9 but not reaped (a zombie).
await h.close();
const dir = (await import('node:fs')).mkdtempSync(
  path.join((await import('node:os')).tmpdir(), 'attack-lock-'),
);
const holder = `import(${JSON.stringify(path.join(root, 'src/service/data-lock.ts'))}).then((m) => { m.lockDataDir(${JSON.stringify(dir)}); console.log('locked ' + process.pid); setInterval(() => {}, 1e6); })`;
const sh = spawn('sh', ['-c', `"${process.execPath}" -e "$HOLDER" & exec sleep 20`], {
  env: { ...process.env, HOLDER: holder },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const pid = await new Promise<number>((resolve) => {
  sh.stdout!.on('data', (d: Buffer) => {
    const m = /locked (\d+)/.exec(d.toString());
    if (m) resolve(Number(m[1]));
  });
});
process.kill(pid, 'SIGKILL');
await new Promise((r) => setTimeout(r, 300));
try {
  lockDataDir(dir)();
  out['restart while the killed owner is a zombie'] = 'starts';
} catch (err) {
  out['restart while the killed owner is a zombie'] = `refused: ${(err as Error).message}`;
}
sh.kill('SIGKILL');

process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
process.exit(0);
