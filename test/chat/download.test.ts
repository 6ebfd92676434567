import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DownloadError,
  downloadImage,
  isAllowedUrl,
  parseHostList,
  sniffImage,
} from '../../src/chat/download.ts';

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100)]);

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; host: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let cdn: { server: Server; host: string };
let other: { server: Server; host: string };
const seenAuth: (string | undefined)[] = [];

beforeAll(async () => {
  other = await serve((req, res) => {
    seenAuth.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
  });
  cdn = await serve((req, res) => {
    seenAuth.push(req.headers.authorization);
    const url = req.url ?? '';
    if (url === '/ok.png') res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
    else if (url === '/hop') res.writeHead(302, { location: '/ok.png' }).end();
    else if (url === '/away') res.writeHead(302, { location: `http://${other.host}/x.png` }).end();
    else if (url === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else if (url === '/html') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>');
    else if (url === '/liar') res.writeHead(200, { 'content-type': 'image/png' }).end('<svg></svg>');
    else if (url === '/big')
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': '5000' }).end(Buffer.alloc(5000));
    else if (url === '/chunked') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write(PNG);
      res.write(Buffer.alloc(3000));
      res.end(Buffer.alloc(3000));
    } else if (url === '/slow')
      setTimeout(() => res.writeHead(200, { 'content-type': 'image/png' }).end(PNG), 2000);
    else res.writeHead(404).end();
  });
});

afterAll(() => {
  cdn.server.closeAllConnections();
  cdn.server.close();
  other.server.close();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DownloadError);
    return (err as DownloadError).code;
  }
  throw new Error('expected a DownloadError');
}

describe('downloadImage', () => {
  it('downloads from a listed host:port and follows a redirect on it, sending the credentials', async () => {
    seenAuth.length = 0;
    const r = await downloadImage(`http://${cdn.host}/hop`, {
      allowedHosts: [cdn.host],
      credentials: { headers: { authorization: 'Bearer t' }, hosts: [cdn.host] },
    });
    expect(r.bytes.equals(PNG)).toBe(true);
    expect(r.contentType).toBe('image/png');
    expect(r.url).toBe(`http://${cdn.host}/ok.png`);
    expect(seenAuth).toEqual(['Bearer t', 'Bearer t']);
  });

  it('refuses an off-list host, and a redirect to one without contacting it', async () => {
    expect(await codeOf(downloadImage(`http://${other.host}/x.png`, { allowedHosts: [cdn.host] }))).toBe(
      'host_not_allowed',
    );
    seenAuth.length = 0;
    expect(
      await codeOf(
        downloadImage(`http://${cdn.host}/away`, {
          allowedHosts: [cdn.host],
          credentials: { headers: { authorization: 'Bearer t' }, hosts: [cdn.host] },
        }),
      ),
    ).toBe('host_not_allowed');
    expect(seenAuth).toEqual(['Bearer t']);
  });

  it('sends credentials only to their own hosts: not to another allowed host, nor across a redirect', async () => {
    const credentials = { headers: { authorization: 'Bearer t' }, hosts: [cdn.host] };
    const both = [cdn.host, other.host];
    seenAuth.length = 0;
    // A redirect from the credentials' host to another allowed host: followed, without the token.
    const moved = await downloadImage(`http://${cdn.host}/away`, { allowedHosts: both, credentials });
    expect(moved.bytes.equals(PNG)).toBe(true);
    expect(moved.url).toBe(`http://${other.host}/x.png`);
    expect(seenAuth).toEqual(['Bearer t', undefined]);
    // A picture on an allowed host that is not the credentials' own: fetched without them.
    seenAuth.length = 0;
    await downloadImage(`http://${other.host}/x.png`, { allowedHosts: both, credentials });
    expect(seenAuth).toEqual([undefined]);
  });

  it('refuses non-images by content type and by magic bytes', async () => {
    expect(await codeOf(downloadImage(`http://${cdn.host}/html`, { allowedHosts: [cdn.host] }))).toBe(
      'not_image',
    );
    expect(await codeOf(downloadImage(`http://${cdn.host}/liar`, { allowedHosts: [cdn.host] }))).toBe(
      'not_image',
    );
  });

  it('caps the size by header and while streaming', async () => {
    expect(
      await codeOf(downloadImage(`http://${cdn.host}/big`, { allowedHosts: [cdn.host], maxBytes: 4096 })),
    ).toBe('too_large');
    expect(
      await codeOf(downloadImage(`http://${cdn.host}/chunked`, { allowedHosts: [cdn.host], maxBytes: 4096 })),
    ).toBe('too_large');
  });

  it('times out, and stops redirect loops', async () => {
    expect(
      await codeOf(downloadImage(`http://${cdn.host}/slow`, { allowedHosts: [cdn.host], timeoutMs: 200 })),
    ).toBe('timeout');
    expect(await codeOf(downloadImage(`http://${cdn.host}/loop`, { allowedHosts: [cdn.host] }))).toBe(
      'too_many_redirects',
    );
    expect(await codeOf(downloadImage('not a url', { allowedHosts: [cdn.host] }))).toBe('bad_url');
  });
});

describe('host rules', () => {
  it('parses the list with defaults', () => {
    expect(parseHostList(undefined)).toContain('cdn.discordapp.com');
    expect(parseHostList(' A.example:8080 , b.example ')).toEqual(['a.example:8080', 'b.example']);
  });

  it('matches host or host:port, https anywhere, http only on loopback', () => {
    const hosts = ['cdn.discordapp.com', '127.0.0.1:9000'];
    expect(isAllowedUrl(new URL('https://cdn.discordapp.com/a.png'), hosts)).toBe(true);
    expect(isAllowedUrl(new URL('http://cdn.discordapp.com/a.png'), hosts)).toBe(false);
    expect(isAllowedUrl(new URL('https://cdn.discordapp.com:8443/a.png'), hosts)).toBe(false);
    expect(isAllowedUrl(new URL('https://evil.com/cdn.discordapp.com'), hosts)).toBe(false);
    expect(isAllowedUrl(new URL('http://127.0.0.1:9000/a.png'), hosts)).toBe(true);
    expect(isAllowedUrl(new URL('http://127.0.0.1:9001/a.png'), hosts)).toBe(false);
  });

  it('sniffs image formats', () => {
    expect(sniffImage(PNG)).toBe('png');
    expect(sniffImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(sniffImage(Buffer.from('GIF89a'))).toBe('gif');
    expect(sniffImage(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('webp');
    expect(sniffImage(Buffer.from('\0\0\0\x1cftypavif'))).toBe('avif');
    expect(sniffImage(Buffer.from('<svg'))).toBeUndefined();
  });
});
