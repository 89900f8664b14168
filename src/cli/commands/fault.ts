// `routemesh fault ...`: faults injected into the swarm's links, named in Swarm's words (a task, a service,
// a node's way to either, the link between two nodes). routemesh's own verbs: docker has none.
import type { ApiFault } from '../apiTypes.js';
import type { Command, CommandGroup } from '../Command.js';
import { usageError } from '../errors.js';
import type { FlagSpec, ParsedArgs } from '../flags.js';
import { renderFaultList } from '../views/faultList.js';
import { eachRef, failOnErrors } from './eachRef.js';

const KINDS = ['latency', 'bandwidth', 'refused', 'reset', 'blackhole', 'loss', 'duplicate', 'slow-connect', 'partition'];

const ADD_FLAGS: readonly FlagSpec[] = [
  { name: 'task', kind: 'string', valueName: 'task', help: 'On one task, by its name (my-web.3) or ID, from every node' },
  { name: 'service', kind: 'string', valueName: 'service', help: 'On every task of a service, from every node' },
  { name: 'from', kind: 'string', valueName: 'node', help: "Only on this node's way to the task or service" },
  { name: 'between', kind: 'string', valueName: 'node,node', help: 'On the links between two nodes, both ways (partition: their cluster links too)' },
  { name: 'latency', kind: 'string', valueName: 'duration', help: 'latency: how much later the task\'s answers arrive (100ms)' },
  { name: 'jitter', kind: 'string', valueName: 'duration', help: 'latency: how much each delay varies, either way' },
  { name: 'rate', kind: 'string', valueName: 'bytes', help: 'bandwidth: bytes a second, each way, per connection (64kB, 1MB)' },
  { name: 'after', kind: 'string', valueName: 'bytes', help: 'reset: the bytes a connection carries before it is reset' },
  { name: 'percent', kind: 'string', valueName: 'percent', help: 'loss, duplicate: the share of UDP datagrams (30)' },
  { name: 'delay', kind: 'string', valueName: 'duration', help: 'slow-connect: how long each connect takes' },
  { name: 'duration', kind: 'string', valueName: 'duration', help: 'Lift the fault by itself after this long (default: when removed)' },
];

const KIND_HELP = `KIND is one of:
  latency       the task's answers arrive later (--latency, --jitter)
  bandwidth     each connection is capped, each way (--rate)
  refused       connects are refused, as by a task that does not listen
  reset         connections are reset after so many bytes (--after)
  blackhole     connections are accepted and never answered; UDP datagrams vanish
  loss          UDP datagrams toward the task are lost (--percent)
  duplicate     UDP datagrams toward the task arrive twice (--percent)
  slow-connect  connects take long (--delay)
  partition     --between two nodes: connects never complete, and their cluster links are cut

Examples:
  routemesh fault add latency --service my-web --latency 100ms --jitter 10ms
  routemesh fault add refused --from node1 --task my-web.2 --duration 30s
  routemesh fault add partition --between node1,node3`;

/** The request body from the flags: the engine checks each value and says what is wrong. */
function faultRequest(kind: string, args: ParsedArgs): Record<string, unknown> {
  if (!KINDS.includes(kind)) throw usageError(`"${kind}" is not a fault kind: use one of ${KINDS.join(', ')}`);
  const between = args.string('between');
  const percent = args.string('percent');
  const percentValue = percent === undefined ? undefined : Number(percent.replace(/%$/, ''));
  if (percent !== undefined && !Number.isFinite(percentValue)) throw usageError(`invalid argument "${percent}" for "--percent" flag: give a number such as 30`);
  const strings: [string, string][] = [['task', 'Task'], ['service', 'Service'], ['from', 'From'], ['latency', 'Latency'], ['jitter', 'Jitter'], ['rate', 'Rate'], ['after', 'After'], ['delay', 'Delay'], ['duration', 'Duration']];
  return {
    Kind: kind,
    ...Object.fromEntries(strings.flatMap(([flag, field]) => (args.string(flag) === undefined ? [] : [[field, args.string(flag)]]))),
    ...(between !== undefined ? { Between: between.split(',').map((n) => n.trim()) } : {}),
    ...(percentValue !== undefined ? { Percent: percentValue } : {}),
  };
}

const add: Command = {
  name: 'add',
  usage: 'KIND (--task TASK | --service SERVICE | --between NODE,NODE) [OPTIONS]',
  summary: 'Inject a fault into the mesh\'s links (routemesh only)',
  details: KIND_HELP,
  flags: ADD_FLAGS,
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, args) {
    const created = await ctx.client().post<{ ID: string }>('/routemesh/faults', faultRequest(args.positionals[0]!, args));
    ctx.out(created.ID);
    return 0;
  },
};

const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  summary: 'List the injected faults',
  flags: [{ name: 'quiet', short: 'q', kind: 'bool', help: 'Only display IDs' }],
  maxArgs: 0,
  async run(ctx, args) {
    const faults = (await ctx.client().get<ApiFault[]>('/routemesh/faults')) ?? [];
    if (args.bool('quiet')) for (const fault of faults) ctx.out(fault.ID);
    else ctx.write(renderFaultList(faults, Date.now()));
    return 0;
  },
};

const rm: Command = {
  name: 'rm',
  aliases: ['remove'],
  usage: '[OPTIONS] FAULT [FAULT...]',
  summary: 'Lift one or more faults',
  flags: [{ name: 'all', short: 'a', kind: 'bool', help: 'Lift every fault' }],
  async run(ctx, args) {
    const refs = args.bool('all') ? (await ctx.client().get<ApiFault[]>('/routemesh/faults')).map((f) => f.ID) : args.positionals;
    if (!refs.length && !args.bool('all')) throw usageError('"routemesh fault rm" requires at least 1 argument (or --all)');
    const { errors } = await eachRef(refs, async (ref) => {
      await ctx.client().delete(`/routemesh/faults/${encodeURIComponent(ref)}`);
      ctx.out(ref);
    });
    failOnErrors(errors);
    return 0;
  },
};

export const faultGroup: CommandGroup = {
  name: 'fault',
  summary: 'Inject faults into the mesh: latency, bandwidth, refusals, resets, blackholes, loss, partitions',
  commands: [add, ls, rm],
};
