import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { forgetMallocTuning, MALLOC_TUNED_MARK, mallocRelaunchEnv } from '../../src/config.ts';

const root = path.resolve(import.meta.dirname, '../..');

function run(env: NodeJS.ProcessEnv): Promise<{ pid: number | undefined; out: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['test/fixtures/tuned-entry.ts', 'a b', '--x'], { cwd: root, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve({ pid: child.pid, out: JSON.parse(out) }) : reject(new Error(`exit ${code}`)),
    );
  });
}

const withoutTuning = () => {
  const env = { ...process.env };
  delete env.MALLOC_MMAP_THRESHOLD_;
  delete env[MALLOC_TUNED_MARK];
  return env;
};

describe('malloc tuning at start', () => {
  it('starts the process again as itself (same pid, same arguments) with the threshold fixed, and keeps it from its children', async () => {
    const { pid, out } = await run(withoutTuning());
    expect(out.pid).toBe(pid);
    expect(out.startedWith).toBe('MALLOC_MMAP_THRESHOLD_=4194304');
    expect(out.argv).toEqual(['a b', '--x']);
    expect(out.child).toBe('unset');
  });

  it("keeps the user's own threshold, and hands it on", async () => {
    const { out } = await run({ ...withoutTuning(), MALLOC_MMAP_THRESHOLD_: '65536' });
    expect(out.startedWith).toBe('MALLOC_MMAP_THRESHOLD_=65536');
    expect(out.child).toBe('65536');
  });

  it('decides from the environment and the platform alone', () => {
    expect(mallocRelaunchEnv({ PATH: '/bin' }, 'linux')).toEqual({
      PATH: '/bin',
      MALLOC_MMAP_THRESHOLD_: '4194304',
      [MALLOC_TUNED_MARK]: '1',
    });
    expect(mallocRelaunchEnv({ PATH: '/bin' }, 'darwin')).toBeUndefined();
    expect(mallocRelaunchEnv({ MALLOC_MMAP_THRESHOLD_: '1' }, 'linux')).toBeUndefined();
    expect(mallocRelaunchEnv({ [MALLOC_TUNED_MARK]: '1' }, 'linux')).toBeUndefined();
    const tuned: Record<string, string | undefined> = {
      MALLOC_MMAP_THRESHOLD_: '4194304',
      [MALLOC_TUNED_MARK]: '1',
    };
    forgetMallocTuning(tuned);
    expect(tuned).toEqual({});
    const users: Record<string, string | undefined> = { MALLOC_MMAP_THRESHOLD_: '65536' };
    forgetMallocTuning(users);
    expect(users).toEqual({ MALLOC_MMAP_THRESHOLD_: '65536' });
  });

  it('is the first import of every entry point', () => {
    const entries = [
      'src/main.ts',
      'src/cli/main.ts',
      'src/scale/worker.ts',
      'src/cli/bench.ts',
      'src/cli/parity.ts',
    ];
    for (const entry of entries) {
      const first = /^import\s+['"]([^'"]+)['"]|^import\s[^;]*?from\s+['"]([^'"]+)['"]/m.exec(
        readFileSync(path.join(root, entry), 'utf8'),
      );
      expect(first?.[1] ?? first?.[2], entry).toMatch(/\/malloc-tuning\.ts$/);
    }
    expect(readFileSync(path.join(root, 'bin/stillmotion.js'), 'utf8')).toMatch(
      /import '\.\.\/src\/cli\/main\.ts'/,
    );
  });
});
