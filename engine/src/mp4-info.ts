/**
 * Reads an MP4's duration and video size from its `moov` box, without ffprobe (which the
 * `@ffmpeg-installer` package does not ship). Used to size a re-encode for an upload limit.
 */
import { open } from 'node:fs/promises';
import { VideoError } from './errors.ts';

export interface Mp4Info {
  readonly durationS: number;
  readonly width: number;
  readonly height: number;
  /** Samples in the video track (`stsz`): its frame count. */
  readonly frames: number;
}

interface Box {
  readonly type: string;
  /** Payload start and end (exclusive), relative to the buffer or file. */
  readonly start: number;
  readonly end: number;
}

const MAX_MOOV_BYTES = 64 * 1024 * 1024;

function* childBoxes(buf: Buffer, start: number, end: number): Generator<Box> {
  let offset = start;
  while (offset + 8 <= end) {
    let size = buf.readUInt32BE(offset);
    let header = 8;
    if (size === 1) {
      if (offset + 16 > end) return;
      size = Number(buf.readBigUInt64BE(offset + 8));
      header = 16;
    } else if (size === 0) {
      size = end - offset;
    }
    if (size < header || offset + size > end) return;
    yield {
      type: buf.toString('latin1', offset + 4, offset + 8),
      start: offset + header,
      end: offset + size,
    };
    offset += size;
  }
}

async function readMoov(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset + 8 <= fileSize) {
      const { bytesRead } = await handle.read(header, 0, 16, offset);
      if (bytesRead < 8) break;
      let size = header.readUInt32BE(0);
      let headerSize = 8;
      if (size === 1 && bytesRead >= 16) {
        size = Number(header.readBigUInt64BE(8));
        headerSize = 16;
      } else if (size === 0) {
        size = fileSize - offset;
      }
      if (size < headerSize) break;
      if (header.toString('latin1', 4, 8) === 'moov') {
        const length = size - headerSize;
        if (length > MAX_MOOV_BYTES) break;
        const moov = Buffer.alloc(length);
        await handle.read(moov, 0, length, offset + headerSize);
        return moov;
      }
      offset += size;
    }
  } finally {
    await handle.close();
  }
  throw new VideoError(`${file} is not an MP4 with a readable moov box`);
}

function findBox(buf: Buffer, parent: Box, route: readonly string[]): Box | undefined {
  let box: Box | undefined = parent;
  for (const type of route) {
    const current: Box = box;
    box = undefined;
    for (const child of childBoxes(buf, current.start, current.end)) {
      if (child.type === type) {
        box = child;
        break;
      }
    }
    if (!box) return undefined;
  }
  return box;
}

/** Duration (`mvhd`), the first video track's size (`tkhd`) and frame count (`stsz`). */
export async function readMp4Info(file: string): Promise<Mp4Info> {
  const moov = await readMoov(file);
  let durationS = 0;
  let width = 0;
  let height = 0;
  let frames = 0;
  for (const box of childBoxes(moov, 0, moov.length)) {
    if (box.type === 'mvhd' && box.end - box.start >= 32) {
      const version = moov.readUInt8(box.start);
      const timescale = moov.readUInt32BE(box.start + (version === 1 ? 20 : 12));
      const duration =
        version === 1 ? Number(moov.readBigUInt64BE(box.start + 24)) : moov.readUInt32BE(box.start + 16);
      if (timescale > 0) durationS = duration / timescale;
    } else if (box.type === 'trak' && width === 0) {
      const tkhd = findBox(moov, box, ['tkhd']);
      const at = tkhd ? tkhd.start + (moov.readUInt8(tkhd.start) === 1 ? 88 : 76) : 0;
      if (!tkhd || at + 8 > tkhd.end) continue;
      width = moov.readUInt32BE(at) >>> 16;
      height = moov.readUInt32BE(at + 4) >>> 16;
      const stsz = findBox(moov, box, ['mdia', 'minf', 'stbl', 'stsz']);
      if (stsz && stsz.start + 12 <= stsz.end) frames = moov.readUInt32BE(stsz.start + 8);
    }
  }
  if (!(durationS > 0) || width === 0 || height === 0 || frames === 0) {
    throw new VideoError(`${file} has no video track with a duration, a size and frames`);
  }
  return { durationS, width, height, frames };
}
