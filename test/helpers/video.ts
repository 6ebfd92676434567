/**
 * Test helpers for the video tests: synthetic frames, decoding frames back with Debian's ffmpeg,
 * MP4 box order, and this process's ffmpeg children.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'vitest';

export const execFileAsync = promisify(execFile);

/** numFrames frames of width×height, frame i a flat grey of level(i). */
export function greyFrames(
  numFrames: number,
  width: number,
  height: number,
  level = (i: number) => 20 + 25 * i,
) {
  const frameBytes = width * height * 3;
  const frames = new Uint8Array(numFrames * frameBytes);
  for (let i = 0; i < numFrames; i++) frames.fill(level(i), i * frameBytes, (i + 1) * frameBytes);
  return frames;
}

/** Decodes a video with Debian's ffmpeg into per-frame mean grey levels. */
export async function frameMeans(file: string, width: number, height: number): Promise<number[]> {
  const { stdout } = await execFileAsync(
    '/usr/bin/ffmpeg',
    ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  const size = width * height;
  const means: number[] = [];
  for (let offset = 0; offset < stdout.length; offset += size) {
    let sum = 0;
    for (let i = offset; i < offset + size; i++) sum += stdout[i];
    means.push(sum / size);
  }
  return means;
}

/** Frame i of greyFrames() decodes back to grey 20+25i: each frame once, in order. */
export function expectGreyRamp(means: number[], count: number): void {
  expect(means).toHaveLength(count);
  const worst = Math.max(...means.map((m, i) => Math.abs(m - (20 + 25 * i))));
  expect(worst).toBeLessThan(3);
}

/** Types of the top-level boxes of an MP4, in file order. */
export function topLevelBoxes(file: string): string[] {
  const buf = readFileSync(file);
  const types: string[] = [];
  for (let offset = 0; offset + 8 <= buf.length; ) {
    let size = buf.readUInt32BE(offset);
    if (size === 1) size = Number(buf.readBigUInt64BE(offset + 8));
    if (size === 0) size = buf.length - offset;
    types.push(buf.toString('latin1', offset + 4, offset + 8));
    offset += size;
  }
  return types;
}

/** Pids of this process's live children. */
export function childPids(): string[] {
  const tasks = `/proc/${process.pid}/task`;
  return readdirSync(tasks).flatMap((t) =>
    readFileSync(`${tasks}/${t}/children`, 'utf8').split(/\s+/).filter(Boolean),
  );
}

/** The process group of a pid, from /proc/<pid>/stat (the field after the state). */
export function processGroup(pid: string | number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2];
}

/** Running, not gone and not a zombie waiting for an orphan reaper. */
export function isAlive(pid: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.includes('.partial'));
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
