/** Finds a Python 3 that can `import onnx`: python3 on PATH, else Debian's /usr/bin/python3 (python3-onnx). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function findPythonWithOnnx(): Promise<string> {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string =>
    Boolean(c),
  );
  for (const python of candidates) {
    try {
      await exec(python, ['-c', 'import onnx']);
      return python;
    } catch {
      // this one lacks onnx: try the next
    }
  }
  throw new Error(
    `no Python with the onnx package among ${candidates.join(', ')}: install python3-onnx (apt)`,
  );
}
