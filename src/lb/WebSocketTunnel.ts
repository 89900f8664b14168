// A WebSocket upgrade in http mode: the request goes to the chosen task over a connection of its own, and
// once the task answers 101 the two connections are joined, bytes passing both ways until either side
// closes. Any other answer is passed on and the connection closed; a task that cannot be reached, or
// fails before answering, gets the client a 502 status line, never a silent close. Only the wait for
// the task's answer is timed: an upgraded connection may stay quiet as long as both ends like.
import type net from 'node:net';
import type { Backend } from './Backend.js';
import { dial } from './FaultyLink.js';
import type { HttpTarget } from './HttpForwarder.js';
import { ResponseReader } from './ResponseReader.js';
import type { AnswerHandler } from './ResponseReader.js';
import type { ResponseHead } from './responseHead.js';
import { answerHeaders } from './hopHeaders.js';
import { endWith, rawReply } from './meshAnswers.js';
import { relay } from './relay.js';
import { secondsSince } from './TcpForwarder.js';

export class WebSocketTunnel implements AnswerHandler {
  readonly #client: net.Socket;
  readonly #task: net.Socket;
  readonly #backend: Backend;
  readonly #target: HttpTarget;
  readonly #reader = new ResponseReader();
  #connected = false;
  #joined = false;
  #failed = false;

  /** `head` is what the client sent after its request's head. */
  constructor(client: net.Socket, requestHead: string, head: Buffer, backend: Backend, target: HttpTarget, localAddress: string | undefined) {
    this.#client = client;
    this.#backend = backend;
    this.#target = target;
    const startedAt = target.events.upstreamConnected ? process.hrtime.bigint() : 0n;
    const task = (this.#task = dial(backend, { host: backend.host, port: backend.port, noDelay: true, ...(localAddress ? { localAddress } : {}) }));
    task.setTimeout(target.limits.connectTimeoutMs ?? 5000);
    task.once('connect', () => {
      this.#connected = true;
      task.setTimeout(target.limits.responseTimeoutMs ?? 0);
      target.events.upstreamConnected?.(backend, secondsSince(startedAt));
    });
    task.on('timeout', () => this.#fail(new Error(this.#connected ? 'no answer in time' : 'connect timed out')));
    task.on('error', (error) => this.#fail(error));
    task.on('close', (hadError) => {
      if (this.#joined || this.#reader.done) {
        if (hadError) client.destroy();
        return;
      }
      try {
        this.#reader.closed(); // a refusal whose body ends with the close ends here
      } catch (error) {
        this.#fail(error as Error);
      }
    });
    client.on('close', () => task.destroy());
    this.#reader.start('GET', this);
    task.on('data', (chunk: Buffer) => this.#read(chunk));
    // Heads are text of one character per byte (latin1), both ways: bytes above 0x7f pass unchanged.
    task.write(requestHead, 'latin1');
    if (head.length) task.write(head);
    relay(client, task);
  }

  #read(chunk: Buffer): void {
    try {
      this.#reader.read(chunk);
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  head(head: ResponseHead): void {
    this.#target.events.answered?.(this.#backend, head.status);
    if (head.status !== 101) {
      this.#client.write(statusLine(head) + headerLines(answerHeaders(head)) + 'connection: close\r\n\r\n', 'latin1');
      return;
    }
    // Joined: the 101 as the task sent it (its Upgrade, Connection and handshake headers are the client's to read).
    this.#joined = true;
    const task = this.#task;
    task.setTimeout(0);
    task.removeAllListeners('data');
    this.#client.write(statusLine(head) + headerLines(head.rawHeaders) + '\r\n', 'latin1');
    if (this.#reader.rest?.length) this.#client.write(this.#reader.rest);
    relay(task, this.#client);
  }

  body(piece: Buffer): void {
    // A refusal's body, at the client's pace: the task waits while the client's buffer is full.
    if (!this.#client.write(piece) && !this.#task.isPaused()) {
      this.#task.pause();
      this.#task.setTimeout(0);
      this.#client.once('drain', () => {
        this.#task.setTimeout(this.#target.limits.responseTimeoutMs ?? 0);
        this.#task.resume();
      });
    }
  }

  end(): void {
    if (this.#joined) return;
    this.#client.end();
    this.#task.destroy();
  }

  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    if (this.#joined || this.#client.destroyed) {
      this.#task.destroy();
      this.#client.destroy();
      return;
    }
    const { events, serviceName } = this.#target;
    if (this.#connected) events.answered?.(this.#backend, 502);
    else events.connectError?.(this.#backend, error);
    this.#task.destroy();
    // A client that got nothing yet learns why first.
    if (this.#client.bytesWritten === 0) {
      endWith(this.#client, rawReply(502, `task ${this.#backend.label} of service ${serviceName} could not take the WebSocket (${error.message})`));
    } else {
      this.#client.destroy();
    }
  }
}

function statusLine(head: ResponseHead): string {
  return `HTTP/1.1 ${head.status} ${head.reason}\r\n`;
}

function headerLines(rawHeaders: readonly string[]): string {
  let lines = '';
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) lines += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return lines;
}
