/**
 * What a refused upload costs the sidecar, beside an accepted one (issue 10, "cheap refusals").
 * One process, real HTTP on loopback, the tiny model (not warmed: nothing runs, jobs wait).
 * Every request is a ~19 MB PNG on its own connection; the server counts the bytes it read from
 * that connection, the time to the answer, and whether anything reached the disk.
 *
 * Cases: accepted; anonymous caller over its per-user cap (refused before the body is read);
 * token holder naming a user over the cap, `user` sent before the picture (as the bots do);
 * the same with `user` after the picture (refused once the form is read, before decode and disk);
 * over the rate limit.
 *
 * Prints one JSON object on stdout. Usage: node bench/refusal-cost.ts [--mb 19]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { buildApp } from '../src/http/app.ts';
import { listen } from '../src/http/server.ts';
import { createLogger } from '../src/log.ts';
import { createLocalSidecar, sidecarConfig } from '../src/service/sidecar.ts';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '19' } } });
const side = Math.floor(Math.sqrt((Number(values.mb) * 1e6) / 3));
const TOKEN = 'bench-token-0123456789abcdefghij';
const log = createLogger(process.env.LOG_LEVEL ?? 'silent');

const dataDir = mkdtempSync(path.join(tmpdir(), 'stillmotion-refusal-'));
const sidecar = await createLocalSidecar(sidecarConfig(dataDir, { device: 'cpu', perUser: 1 }), log);
const app = await buildApp({
  service: sidecar.service,
  info: { model: sidecar.service.model, ready: () => false, provider: () => undefined },
  logger: log,
  adminToken: TOKEN,
  playground: false,
  limits: { submitsPerMinute: 5 },
});
const read = new Map<number, number>();
app.server.on('connection', (socket: Socket) => {
  const port = socket.remotePort!;
  socket.on('close', () => read.set(port, socket.bytesRead));
});
const server = await listen(app, '127.0.0.1', 0);
const port = server.port;

// Noise does not compress: the PNG is about as large as its pixels.
const png = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
  .png({ compressionLevel: 0 })
  .toBuffer();

const BOUNDARY = 'refusal-bench-boundary';
function form(parts: { name: string; value: Buffer | string; file?: boolean }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = p.file
      ? `form-data; name="${p.name}"; filename="pic.png"\r\nContent-Type: image/png`
      : `form-data; name="${p.name}"`;
    chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

interface Outcome {
  status: number;
  code?: string;
  ms_to_answer: number;
  bytes_sent: number;
  server_bytes_read: number;
  input_files_after: number;
}

/** Sends the body in 64 KiB chunks; stops sending once the answer has come. */
function post(body: Buffer, token?: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let sent = 0;
    let answered = false;
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/jobs',
      agent: false,
      headers: {
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': body.length,
        connection: 'close',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
    const pump = () => {
      while (!answered && sent < body.length) {
        const chunk = body.subarray(sent, sent + 65_536);
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    req.on('error', (err) => (answered ? undefined : reject(err)));
    req.on('response', (res) => {
      answered = true;
      const ms = performance.now() - t0;
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => {
        const local = req.socket?.localPort;
        req.destroy();
        setTimeout(() => {
          resolve({
            status: res.statusCode!,
            code: (JSON.parse(text) as { code?: string }).code,
            ms_to_answer: Math.round(ms * 10) / 10,
            bytes_sent: sent,
            server_bytes_read: local ? (read.get(local) ?? -1) : -1,
            input_files_after: readdirSync(sidecar.journal.inputsDir).length,
          });
        }, 100);
      });
    });
    pump();
  });
}

const fields = { frames: '2', steps: '1' };
const optionParts = Object.entries(fields).map(([name, value]) => ({ name, value }));
const image = { name: 'image', value: png, file: true };
const results: Record<string, Outcome> = {};
results.accepted = await post(form([...optionParts, image]));
results.refused_anonymous_over_cap = await post(form([...optionParts, image]));
await post(form([{ name: 'user', value: 'discord:1' }, image]), TOKEN); // fills discord:1's cap
results.refused_token_user_first = await post(form([{ name: 'user', value: 'discord:1' }, image]), TOKEN);
results.refused_token_user_after_image = await post(
  form([image, { name: 'user', value: 'discord:1' }]),
  TOKEN,
);
// Five submissions a minute from one address: the anonymous caller has used two.
await post(form([...optionParts, image]));
await post(form([...optionParts, image]));
await post(form([...optionParts, image]));
results.refused_rate_limited = await post(form([...optionParts, image]));

process.stdout.write(
  `${JSON.stringify({ upload_bytes: png.length, picture: `${side}x${side}`, ...results }, null, 1)}\n`,
);
await server.close();
await sidecar.service.shutdown();
rmSync(dataDir, { recursive: true, force: true });
