// Parent side of the load child (bench/load.ts): starts it once, hands it one job at a time and reads
// each job's JSON answer. A run that hangs past its limit kills the child, and the next run starts a new
// one; close() stops it on every exit path of the bench.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoadAnswer, LoadOptions, LoadResult } from './protocol.js';

const LOAD_SCRIPT = fileURLToPath(new URL('./load.ts', import.meta.url));
/** The project root, so `--import tsx` resolves from its node_modules whatever the caller's cwd. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Room for the child to start and autocannon to drain, on top of the scenario's own seconds. */
const GRACE_MS = 30_000;

interface LoadChild {
  process: ChildProcess;
  lines: Interface;
}

export class LoadRunner {
  #child: LoadChild | undefined;

  #start(): LoadChild {
    const child = spawn(process.execPath, ['--import', 'tsx', LOAD_SCRIPT], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    const started: LoadChild = { process: child, lines: createInterface({ input: child.stdout! }) };
    child.once('exit', () => { if (this.#child === started) this.#child = undefined; });
    child.stdin!.on('error', () => {}); // a child that died mid-job is reported by run(), not as an EPIPE
    return started;
  }

  /** With several URLs, the connections take them in turn. */
  run(url: string | string[], options: LoadOptions): Promise<LoadResult> {
    const child = (this.#child ??= this.#start());
    const limitMs = (options.warmupSec + options.durationSec) * 1000 + GRACE_MS;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        child.lines.off('line', onLine);
        child.process.off('exit', onExit);
        child.process.off('error', onError);
      };
      const onLine = (line: string): void => {
        done();
        let answer: LoadAnswer;
        try {
          answer = JSON.parse(line) as LoadAnswer;
        } catch {
          // Whatever it is doing, its next line could pass for the next job's answer: start afresh.
          this.close();
          return reject(new Error(`the load child answered ${url} with no JSON: ${line.slice(0, 200)}`));
        }
        if ('error' in answer) reject(new Error(`load run against ${url} failed: ${answer.error}`));
        else resolve(answer);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        done();
        reject(new Error(`the load child ended (${signal ?? `exit code ${code}`}) during the run against ${url}`));
      };
      const onError = (error: Error): void => {
        done();
        reject(new Error(`could not start the load child: ${error.message}`));
      };
      const timer = setTimeout(() => {
        done();
        this.close();
        reject(new Error(`the load run against ${url} went past its ${limitMs / 1000} s limit`));
      }, limitMs);
      child.lines.on('line', onLine);
      child.process.once('exit', onExit);
      child.process.once('error', onError);
      child.process.stdin!.write(`${JSON.stringify({ url, options })}\n`);
    });
  }

  /** Stops the child, if one runs. */
  close(): void {
    this.#child?.process.kill('SIGKILL');
    this.#child = undefined;
  }
}
