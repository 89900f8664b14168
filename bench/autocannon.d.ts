// Types for the slice of autocannon 8 the benchmark uses (the package ships none): one programmatic
// run, its `response` events and its result totals. Not a general declaration of the package.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    /** One load-generating connection; the `_` methods are internals load.ts wraps. */
    interface Client extends EventEmitter {
      destroyed: boolean;
      conn?: object;
      _connect(): void;
      _doRequest(): void;
      _destroyConnection(): void;
    }

    interface Options {
      /** Several: the connections take them in turn. */
      url: string | string[];
      connections?: number;
      pipelining?: number;
      /** Seconds; fractions work. */
      duration?: number;
      /** Seconds to wait for a response before counting a timeout. */
      timeout?: number;
      headers?: Record<string, string>;
      setupClient?: (client: Client) => void;
    }

    interface Histogram {
      average: number;
      p50: number;
      p99: number;
      total: number;
    }

    interface Result {
      requests: Histogram;
      latency: Histogram;
      /** Seconds, rounded to 10 ms. */
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
    }

    interface Instance extends EventEmitter, PromiseLike<Result> {
      on(event: 'response', listener: (client: Client, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
      on(event: string, listener: (...args: any[]) => void): this;
      stop(): void;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
