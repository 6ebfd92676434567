#!/usr/bin/env python3
"""Run a command while sampling the GPU's used memory with nvidia-smi; write the peak to a file.

    sample_vram.py PEAK_FILE -- CMD [ARGS...]

The command's stdout and stderr pass through and its exit code is returned. PEAK_FILE receives one JSON
object: {"peak_mib", "baseline_mib", "peak_gib", "samples"}, where peak_gib is the peak minus what was
in use before the command started. Without nvidia-smi (the CPU dry run) the numbers are null.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time

INTERVAL_S = 0.1


def used_mib() -> int | None:
    out = subprocess.run(['nvidia-smi', '--query-gpu=memory.used', '--format=csv,noheader,nounits'],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return sum(int(line) for line in out.stdout.split() if line.strip().isdigit())


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != '--':
        print(__doc__, file=sys.stderr)
        return 2
    peak_file, cmd = argv[0], argv[2:]
    have_smi = shutil.which('nvidia-smi') is not None
    baseline = used_mib() if have_smi else None
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            v = used_mib()
            if v is not None:
                samples.append(v)
            time.sleep(INTERVAL_S)

    thread = threading.Thread(target=sample, daemon=True)
    if have_smi:
        thread.start()
    code = subprocess.run(cmd, check=False).returncode
    done.set()
    if have_smi:
        thread.join()
    peak = max(samples) if samples else None
    result = {
        'peak_mib': peak,
        'baseline_mib': baseline,
        'peak_gib': round((peak - (baseline or 0)) / 1024, 3) if peak is not None else None,
        'samples': len(samples),
    }
    with open(peak_file, 'w') as f:
        json.dump(result, f)
    return code


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
