/**
 * Test helper: what Debian's ffprobe says about a video file (the engine itself never uses ffprobe).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const FFPROBE = '/usr/bin/ffprobe';

export interface ProbeResult {
  /** Codec of the first video stream, e.g. `h264` or `gif`. */
  readonly codec: string;
  readonly pix_fmt: string;
  readonly width: number;
  readonly height: number;
  /** Frames actually decoded (`-count_frames`). */
  readonly nb_frames: number;
  /** Container duration in seconds. */
  readonly duration: number;
  /** The stream's frame rate (`r_frame_rate`) as a number. */
  readonly fps: number;
  /** The muxer that wrote the file (format tag `encoder`, e.g. `Lavf59.27.100`), if any. */
  readonly encoder: string | undefined;
}

function rate(text: string | undefined): number {
  const [num, den] = (text ?? '0/1').split('/').map(Number);
  return den ? num / den : num;
}

export async function ffprobe(file: string): Promise<ProbeResult> {
  const { stdout } = await execFileAsync(FFPROBE, [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate:format=duration:format_tags=encoder',
    '-of',
    'json',
    file,
  ]);
  const data = JSON.parse(stdout) as {
    streams?: Array<Record<string, string | number | undefined>>;
    format?: { duration?: string; tags?: { encoder?: string } };
  };
  const stream = data.streams?.[0];
  if (!stream) throw new Error(`ffprobe found no video stream in ${file}`);
  return {
    codec: String(stream.codec_name),
    pix_fmt: String(stream.pix_fmt),
    width: Number(stream.width),
    height: Number(stream.height),
    nb_frames: Number(stream.nb_read_frames),
    duration: Number(data.format?.duration),
    fps: rate(stream.r_frame_rate as string | undefined),
    encoder: data.format?.tags?.encoder,
  };
}
