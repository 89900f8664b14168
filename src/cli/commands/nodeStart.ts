// `routemesh node start`: one node's engine in the foreground, as its own process (`ps` names it after
// the node), until Ctrl-C, SIGTERM or SIGHUP; `up` runs one per node, and a user may start more to join.
// Types only: the engine itself is loaded when the command runs.
import { isIPv4 } from 'node:net';
import type { NodeHandle, NodeOptions } from '../../engine/index.js';
import type { ApiInfo } from '../apiTypes.js';
import type { Command } from '../Command.js';
import type { CommandContext } from '../CommandContext.js';
import { defaultNodeDataDir } from '../dataDir.js';
import { EngineClient } from '../EngineClient.js';
import { usageError } from '../errors.js';
import type { ParsedArgs } from '../flags.js';
import { foreground } from '../foreground.js';
import { NODE_FLAGS, nodeSettings } from '../nodeFlags.js';

export type StartNode = (options: NodeOptions) => Promise<NodeHandle>;

const startFromEngine: StartNode = async (options) => (await import('../../engine/index.js')).startNode(options);

export function createNodeStartCommand(start: StartNode = startFromEngine): Command {
  return {
    name: 'start',
    usage: '--address ADDR [OPTIONS]',
    summary: 'Start one node\'s engine in the foreground, not in a swarm until it joins one (routemesh only)',
    details: 'Then join it from another terminal, against its engine API:\n' +
      '  DOCKER_HOST=tcp://ADDR:2375 docker swarm join --token <token> <manager address>:2377\n' +
      'With the --data-dir of an earlier run it is the same node again, in the same swarm.',
    flags: [
      { name: 'address', kind: 'string', valueName: 'ip', help: 'The node\'s address, on loopback (e.g. 127.1.0.4)' },
      { name: 'hostname', kind: 'string', valueName: 'name', help: 'The node\'s hostname', defaultText: 'node<last number of the address>' },
      { name: 'data-dir', kind: 'string', valueName: 'dir', help: 'Where the node keeps its identity and swarm between runs', defaultText: '$XDG_STATE_HOME/routemesh/<address>, /var/lib/routemesh/<address> as root' },
      ...NODE_FLAGS,
      { name: 'engine-label', kind: 'list', valueName: 'key=value', help: 'An engine label (dockerd --label); engine.labels.* constraints match it (repeatable)' },
      { name: 'route-tasks', kind: 'bool', help: 'On a host of its own (its own network stack, as root): route the other nodes\' task addresses to those nodes (ip route, table local)' },
      { name: 'supervised', kind: 'bool', help: 'Stop when standard input closes (how `routemesh up` ties its node processes to itself)' },
    ],
    maxArgs: 0,
    run: (ctx, args) => runNodeStart(ctx, args, start),
  };
}

export function nodeOptions(ctx: CommandContext, args: ParsedArgs, log: (line: string) => void): NodeOptions {
  const address = args.string('address')?.trim();
  if (address === undefined) throw usageError('routemesh node start needs the node\'s address: --address 127.1.0.4, say (any free address on 127.0.0.0/8)');
  if (!isIPv4(address) || !address.startsWith('127.')) {
    throw usageError(`invalid argument "${address}" for "--address" flag: the node's address is an IPv4 address on loopback, like 127.1.0.4`);
  }
  const hostname = args.string('hostname')?.trim() || `node${address.split('.').at(-1)}`;
  const settings = nodeSettings(args);
  const { metricsPort, ...rest } = settings;
  return {
    hostname,
    address,
    dataDir: args.string('data-dir') ?? defaultNodeDataDir(ctx.io.env, address),
    ...rest,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    ...engineLabels(args),
    ...(args.bool('route-tasks') ? { routeTasks: true } : {}),
    log,
  };
}

function engineLabels(args: ParsedArgs): { engineLabels?: Record<string, string> } {
  const items = args.list('engine-label');
  if (!items.length) return {};
  const labels: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = (eq === -1 ? item : item.slice(0, eq)).trim();
    if (!key) throw usageError(`invalid argument "${item}" for "--engine-label" flag: a label needs a key, like disk=ssd`);
    labels[key] = eq === -1 ? '' : item.slice(eq + 1);
  }
  return { engineLabels: labels };
}

async function runNodeStart(ctx: CommandContext, args: ParsedArgs, start: StartNode): Promise<number> {
  const options = nodeOptions(ctx, args, (line) => ctx.err(`${new Date(ctx.now()).toISOString()} ${line}`));
  process.title = `routemesh ${options.hostname}`;
  const running = foreground(ctx, options.hostname);
  const unsubscribeInput = args.bool('supervised') ? ctx.onInputClosed(() => running.stop()) : () => {};
  try {
    const node = await start(options);
    try {
      await describe(ctx, node, options);
      await running.stopped();
      if (!running.fatal) ctx.err(`Stopping ${node.hostname}...`);
    } finally {
      await node.close();
    }
    return running.fatal ? 1 : 0;
  } finally {
    unsubscribeInput();
    running.dispose();
  }
}

/** Where the node serves, and what to do next: join it, or (restarted with its data) nothing. */
async function describe(ctx: CommandContext, node: NodeHandle, options: NodeOptions): Promise<void> {
  const host = node.apiUrl.replace(/^http:\/\//, 'tcp://');
  ctx.write(`${node.hostname} (pid ${process.pid}): engine API on ${host} and ${node.socketUrl}\n` +
    (node.metricsUrl ? `Metrics: ${node.metricsUrl}\n` : '') +
    `Data: ${options.dataDir}\n`);
  const client = new EngineClient(node.apiUrl, { host });
  try {
    const swarm = (await client.get<ApiInfo>('/info')).Swarm;
    if (swarm?.LocalNodeState === 'active') {
      ctx.write(`\nIn its swarm again as a ${swarm.ControlAvailable ? 'manager' : 'worker'} (node ID ${swarm.NodeID}).\n`);
    } else {
      ctx.write('\nNot in a swarm yet. To join it to one, with a token from `docker swarm join-token worker` on a manager:\n' +
        `    DOCKER_HOST=${host} docker swarm join --token <token> <manager address>:2377\n`);
    }
  } finally {
    client.close();
  }
  ctx.write('\nPress Ctrl-C to stop it.\n');
}
