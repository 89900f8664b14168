// Parent side of the load children: starts bench/load.ts for one scenario, reads its JSON answer, and
// remembers every child still running so a failing or interrupted bench can stop them all.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadOptions, LoadResult } from './protocol.js';

const LOAD_SCRIPT = fileURLToPath(new URL('./load.ts', import.meta.url));
/** The project root, so `--import tsx` resolves from its node_modules whatever the caller's cwd. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Room for tsx to start and autocannon to drain, on top of the scenario's own seconds. */
const GRACE_MS = 30_000;

export class LoadRunner {
  readonly #children = new Set<ChildProcess>();

  run(url: string, options: LoadOptions): Promise<LoadResult> {
    const child = spawn(process.execPath, ['--import', 'tsx', LOAD_SCRIPT, url, JSON.stringify(options)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#children.add(child);
    const limitMs = (options.warmupSec + options.durationSec) * 1000 + GRACE_MS;
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
    return new Promise((resolve, reject) => {
      child.once('error', (error) => {
        clearTimeout(timer);
        this.#children.delete(child);
        reject(new Error(`could not start the load child: ${error.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        this.#children.delete(child);
        const line = out.trim().split('\n').pop() ?? '';
        if (code !== 0) {
          return reject(new Error(`load child for ${url} ended with ${signal ?? `exit code ${code}`}${signal === 'SIGKILL' ? ` (over its ${limitMs / 1000} s limit?)` : ''}`));
        }
        try {
          resolve(JSON.parse(line) as LoadResult);
        } catch {
          reject(new Error(`load child for ${url} printed no JSON result: ${line.slice(0, 200)}`));
        }
      });
    });
  }

  /** Stops the children still running (each by its own pid). */
  killAll(): void {
    for (const child of this.#children) child.kill('SIGKILL');
    this.#children.clear();
  }
}
