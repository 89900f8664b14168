// `routemesh service logs [-f] SERVICE|TASK`: the engine's multiplexed log stream, each line prefixed with
// the task it came from (service.slot.task@node), resolved from the details the engine puts first.
import type { ApiTask } from '../apiTypes.js';
import type { Command } from '../Command.js';
import { truncateId } from '../dockerText.js';
import { EngineError } from '../EngineClient.js';
import type { EngineClient } from '../EngineClient.js';
import { CliError, failure } from '../errors.js';
import { StdcopyParser } from '../stdcopy.js';
import { IdResolver } from './IdResolver.js';
import { readService, servicePath } from './serviceRequests.js';

export const logsCommand: Command = {
  name: 'logs',
  usage: '[OPTIONS] SERVICE|TASK',
  summary: 'Fetch the logs of a service or task',
  flags: [
    { name: 'follow', short: 'f', kind: 'bool', help: 'Follow log output' },
    { name: 'tail', short: 'n', kind: 'string', help: 'Number of lines to show from the end of the logs', defaultText: '"all"' },
    { name: 'timestamps', short: 't', kind: 'bool', help: 'Show timestamps' },
    { name: 'no-trunc', kind: 'bool', help: 'Do not truncate output' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, args) {
    const ref = args.positionals[0]!;
    const client = ctx.client();
    const { path, padding } = await logsOf(client, ref);
    const timestamps = args.bool('timestamps');
    const res = await client.stream(path, {
      details: 1,
      follow: args.bool('follow') ? 1 : undefined,
      stderr: 1,
      stdout: 1,
      tail: args.string('tail') ?? 'all',
      timestamps: timestamps ? 1 : undefined,
    });
    const prefixes = new Prefixes(client, padding, args.bool('no-trunc'));
    const parser = new StdcopyParser();
    const unsubscribe = ctx.onInterrupt(() => res.destroy());
    try {
      // Frames are handled one at a time, in order: a prefix may need lookups before its line can go out.
      for await (const chunk of res as AsyncIterable<Buffer>) {
        for (const frame of parser.push(chunk)) {
          // The daemon's own error (a node whose tasks' logs it cannot read), the docker CLI's words.
          if (frame.stream === 3) throw failure(`error from daemon in stream: ${frame.payload.toString('utf8').trimEnd()}`);
          const output = frame.stream === 2 ? ctx.io.stderr : ctx.io.stdout;
          for (const line of splitLines(frame.payload.toString('utf8'))) {
            output.write(await formatLine(line, prefixes, timestamps));
          }
        }
      }
    } catch (e) {
      // Ctrl-C while following ends the stream; that is how `logs -f` is meant to stop.
      if (!res.destroyed || e instanceof CliError) throw e;
    } finally {
      unsubscribe();
    }
    return 0;
  },
};

/** Where the logs of a service, else of a task, are (as the docker CLI looks for them), and the slot numbers' width. */
async function logsOf(client: EngineClient, ref: string): Promise<{ path: string; padding: number }> {
  try {
    const replicas = (await readService(client, ref)).Spec?.Mode?.Replicated?.Replicas;
    return { path: `${servicePath(ref)}/logs`, padding: typeof replicas === 'number' ? String(replicas).length : 1 };
  } catch (e) {
    if (!(e instanceof EngineError && e.notFound)) throw e;
  }
  try {
    const task = await client.get<ApiTask>(`/tasks/${encodeURIComponent(ref)}`);
    return { path: `/tasks/${encodeURIComponent(ref)}/logs`, padding: String(task?.Slot ?? 0).length };
  } catch (e) {
    if (e instanceof EngineError && e.notFound) throw failure(`no such task or service: ${ref}`);
    throw e;
  }
}

function splitLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  return lines.filter((l) => l !== '');
}

async function formatLine(line: string, prefixes: Prefixes, timestamps: boolean): Promise<string> {
  const parts = line.split(' ');
  const detailsIndex = timestamps ? 1 : 0;
  const details = parts[detailsIndex] ?? '';
  if (parts.length <= detailsIndex + 1 || !details.includes('=')) return line; // no details: print as it came
  const fields = new Map(details.split(',').map((kv) => {
    const eq = kv.indexOf('=');
    return [decodeURIComponent(kv.slice(0, eq)), decodeURIComponent(kv.slice(eq + 1))] as const;
  }));
  const prefix = await prefixes.get(
    fields.get('com.docker.swarm.node.id') ?? '',
    fields.get('com.docker.swarm.service.id') ?? '',
    fields.get('com.docker.swarm.task.id') ?? '');
  const message = parts.slice(detailsIndex + 1).join(' ');
  return `${timestamps ? `${parts[0]} ` : ''}${prefix}    | ${message}`;
}

/** "simple.1.3m8ocp0wk1ud@worker2", each object looked up once, like docker's resolver cache. */
class Prefixes {
  readonly #client: EngineClient;
  readonly #names: IdResolver;
  readonly #padding: number;
  readonly #noTrunc: boolean;
  readonly #cache = new Map<string, Promise<string>>();

  constructor(client: EngineClient, padding: number, noTrunc: boolean) {
    this.#client = client;
    this.#names = new IdResolver(client);
    this.#padding = padding;
    this.#noTrunc = noTrunc;
  }

  get(nodeId: string, serviceId: string, taskId: string): Promise<string> {
    const key = `${nodeId} ${serviceId} ${taskId}`;
    let prefix = this.#cache.get(key);
    if (prefix === undefined) {
      prefix = this.#make(nodeId, serviceId, taskId);
      this.#cache.set(key, prefix);
    }
    return prefix;
  }

  async #make(nodeId: string, serviceId: string, taskId: string): Promise<string> {
    const node = await this.#names.node(nodeId);
    const service = await this.#names.service(serviceId);
    let slot = 0;
    let id = taskId;
    try {
      const task = await this.#client.get<ApiTask>(`/tasks/${encodeURIComponent(taskId)}`);
      slot = task?.Slot ?? 0;
      id = task?.ID ?? taskId;
    } catch {
      // an unknown task still gets a prefix, with slot 0
    }
    const padding = ' '.repeat(Math.max(0, this.#padding - String(slot).length));
    return `${service}.${slot}.${this.#noTrunc ? id : truncateId(id)}@${node}${padding}`;
  }
}

