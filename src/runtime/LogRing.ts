// The last N output lines of one task, and the readers following it live (`docker service logs -f`).
// Older lines fall off: a task that logs forever must not grow without bound.

import type { LogLine } from './TaskRun.js';

export class LogRing {
  readonly #capacity: number;
  #lines: LogLine[] = [];
  /** Index of the oldest line once the buffer has wrapped. */
  #head = 0;
  readonly #listeners = new Set<(line: LogLine) => void>();

  constructor(capacity = 1000) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  push(stream: LogLine['stream'], text: string): void {
    const line: LogLine = { time: new Date(), stream, text };
    if (this.#lines.length < this.#capacity) {
      this.#lines.push(line);
    } else {
      this.#lines[this.#head] = line;
      this.#head = (this.#head + 1) % this.#capacity;
    }
    for (const listener of this.#listeners) {
      try {
        listener(line);
      } catch {
        // A log reader's bug must not take the task (often a request handler mid-flight) down with it.
      }
    }
  }

  /** Oldest first; a copy, so readers may keep it. */
  get lines(): LogLine[] {
    return [...this.#lines.slice(this.#head), ...this.#lines.slice(0, this.#head)];
  }

  onLog(listener: (line: LogLine) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}
