/** Test helper process: takes the DATA_DIR lock of argv[2], says so on stdout, then waits. */
import { lockDataDir } from '../../src/service/data-lock.ts';

lockDataDir(process.argv[2]!);
process.stdout.write(`locked ${process.pid}\n`);
setInterval(() => {}, 60_000);
