// redis (any tag): a key-value server on port 6379 that speaks enough of RESP for what the tutorials and
// health checks do with it (PING, ECHO, SET, GET, DEL, EXISTS, INCR, INFO, QUIT), kept in memory per task.
// It stands in for the seed's `docker service create --name backend ... redis`: not a real Redis.

import net from 'node:net';
import { InProcessTask } from '../InProcessTask.js';
import type { RunningTask, TaskRunSpec } from '../TaskRun.js';
import type { Image, ImageHost } from './Image.js';

const PORT = 6379;
const VERSION = '7.4.1';
/** A request larger than this (a client sending garbage) closes the connection. */
const MAX_REQUEST_BYTES = 1 << 20;

type Reply = string;

const simple = (text: string): Reply => `+${text}\r\n`;
const error = (text: string): Reply => `-ERR ${text}\r\n`;
const integer = (n: number): Reply => `:${n}\r\n`;
const bulk = (text: string | undefined): Reply => (text === undefined ? '$-1\r\n' : `$${Buffer.byteLength(text)}\r\n${text}\r\n`);

/**
 * One command from the front of `buffer`: its words and the bytes it took, or undefined until it is
 * whole. Both of Redis's forms: an array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`), or an inline
 * line (`PING\r\n`, what `nc` and `telnet` send).
 */
function readCommand(buffer: Buffer): { words: string[]; used: number } | undefined | 'bad' {
  const lineEnd = buffer.indexOf('\r\n');
  if (lineEnd < 0) return undefined;
  if (buffer[0] !== 0x2a /* '*' */) {
    return { words: buffer.subarray(0, lineEnd).toString('utf8').trim().split(/\s+/).filter(Boolean), used: lineEnd + 2 };
  }
  const count = Number(buffer.subarray(1, lineEnd).toString('latin1'));
  if (!Number.isInteger(count) || count < 0 || count > 1024) return 'bad';
  const words: string[] = [];
  let at = lineEnd + 2;
  for (let i = 0; i < count; i++) {
    const end = buffer.indexOf('\r\n', at);
    if (end < 0) return undefined;
    if (buffer[at] !== 0x24 /* '$' */) return 'bad';
    const length = Number(buffer.subarray(at + 1, end).toString('latin1'));
    if (!Number.isInteger(length) || length < 0 || length > MAX_REQUEST_BYTES) return 'bad';
    if (buffer.length < end + 2 + length + 2) return undefined;
    words.push(buffer.subarray(end + 2, end + 2 + length).toString('utf8'));
    at = end + 2 + length + 2;
  }
  return { words, used: at };
}

export class RedisImage implements Image {
  async run(spec: TaskRunSpec, host: ImageHost): Promise<RunningTask> {
    const task = new InProcessTask(spec, host);
    const data = new Map<string, string>();
    const answer = (words: string[]): Reply => {
      const [name = '', ...args] = words;
      switch (name.toUpperCase()) {
        case 'PING': return args.length ? bulk(args[0]) : simple('PONG');
        case 'ECHO': return args.length === 1 ? bulk(args[0]) : error("wrong number of arguments for 'echo' command");
        case 'SET':
          if (args.length < 2) return error("wrong number of arguments for 'set' command");
          data.set(args[0]!, args[1]!);
          return simple('OK');
        case 'GET': return args.length === 1 ? bulk(data.get(args[0]!)) : error("wrong number of arguments for 'get' command");
        case 'DEL': return integer(args.filter((key) => data.delete(key)).length);
        case 'EXISTS': return integer(args.filter((key) => data.has(key)).length);
        case 'INCR': {
          if (args.length !== 1) return error("wrong number of arguments for 'incr' command");
          const value = Number(data.get(args[0]!) ?? '0');
          if (!Number.isSafeInteger(value)) return error('value is not an integer or out of range');
          data.set(args[0]!, String(value + 1));
          return integer(value + 1);
        }
        case 'INFO': return bulk(`# Server\r\nredis_version:${VERSION}\r\nredis_mode:standalone\r\ntcp_port:${PORT}\r\n`);
        case 'COMMAND': return '*0\r\n';
        default: return error(`unknown command '${name}', with args beginning with: ${args.slice(0, 3).map((a) => `'${a}'`).join(' ')}`);
      }
    };
    const server = net.createServer((socket) => {
      socket.on('error', () => socket.destroy());
      let pending = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          const command = readCommand(pending);
          if (command === undefined) break;
          if (command === 'bad') {
            socket.end('-ERR Protocol error: invalid multibulk length\r\n');
            return;
          }
          pending = pending.subarray(command.used);
          if (command.words[0]?.toUpperCase() === 'QUIT') {
            socket.end(simple('OK'));
            return;
          }
          if (command.words.length) socket.write(answer(command.words));
        }
        if (pending.length > MAX_REQUEST_BYTES) socket.end('-ERR Protocol error: too big request\r\n');
      });
    });
    const port = await task.serveTcp(server, PORT);
    task.log(`1:M * Redis version=${VERSION}, bits=64, pid=1, just started`);
    task.log(`1:M * Ready to accept connections tcp (port ${port})`);
    return task;
  }
}
