// `routemesh swarm ...`: init, join, join-token, leave — the requests and messages of `docker swarm`
// (SPEC.md §3.1-3.5), with "routemesh" in the hints so they can be pasted as they are.
import type { ApiInfo, ApiNode, ApiSwarm } from '../apiTypes.js';
import type { Command, CommandGroup } from '../Command.js';
import type { CommandContext } from '../CommandContext.js';
import { usageError } from '../errors.js';
import type { FlagSpec } from '../flags.js';

/** Where the node listens and what it tells the others: the same for init and join, as in docker. */
const NODE_ADDRESS_FLAGS: readonly FlagSpec[] = [
  { name: 'advertise-addr', kind: 'string', help: 'Advertised address (format: "<ip|interface>[:port]")' },
  { name: 'listen-addr', kind: 'string', valueName: 'node-addr', help: 'Listen address (format: "<ip|interface>[:port]")', defaultText: '0.0.0.0:2377' },
  { name: 'availability', kind: 'string', help: 'Availability of the node ("active", "pause", "drain")', defaultText: '"active"' },
];

const init: Command = {
  name: 'init',
  usage: '[OPTIONS]',
  summary: 'Initialize a swarm',
  details: 'Sent to the engine of the node that becomes the first manager (ROUTEMESH_HOST).',
  flags: [
    ...NODE_ADDRESS_FLAGS,
    { name: 'force-new-cluster', kind: 'bool', help: 'Force create a new cluster from current state' },
  ],
  maxArgs: 0,
  async run(ctx, args) {
    const client = ctx.client();
    const nodeId = await client.post<string>('/swarm/init', {
      ListenAddr: args.string('listen-addr') ?? '0.0.0.0:2377',
      AdvertiseAddr: args.string('advertise-addr') ?? '',
      DataPathAddr: '',
      DataPathPort: 0,
      ForceNewCluster: args.bool('force-new-cluster'),
      Spec: {
        Labels: null,
        Orchestration: {},
        Raft: { ElectionTick: 0, HeartbeatTick: 0 },
        Dispatcher: {},
        CAConfig: {},
        TaskDefaults: {},
        EncryptionConfig: { AutoLockManagers: false },
      },
      AutoLockManagers: false,
      Availability: args.string('availability') ?? '',
      DefaultAddrPool: [],
      SubnetSize: 24,
    });
    ctx.write(`Swarm initialized: current node (${nodeId}) is now a manager.\n\n`);
    await printJoinCommand(ctx, String(nodeId), { worker: true, manager: false });
    ctx.write("To add a manager to this swarm, run 'routemesh swarm join-token manager' and follow the instructions.\n\n");
    return 0;
  },
};

const join: Command = {
  name: 'join',
  usage: '[OPTIONS] HOST:PORT',
  summary: 'Join a swarm as a node and/or manager',
  details: 'Sent to the engine of the joining node (ROUTEMESH_HOST); HOST:PORT is a manager\'s cluster address.',
  flags: [
    { name: 'token', kind: 'string', help: 'Token for entry into the swarm' },
    ...NODE_ADDRESS_FLAGS,
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, args) {
    const client = ctx.client();
    await client.post('/swarm/join', {
      ListenAddr: args.string('listen-addr') ?? '0.0.0.0:2377',
      AdvertiseAddr: args.string('advertise-addr') ?? '',
      DataPathAddr: '',
      RemoteAddrs: [args.positionals[0]!],
      JoinToken: args.string('token') ?? '',
      Availability: args.string('availability') ?? '',
    });
    const info = await client.get<ApiInfo>('/info');
    ctx.out(info?.Swarm?.ControlAvailable ? 'This node joined a swarm as a manager.' : 'This node joined a swarm as a worker.');
    return 0;
  },
};

const joinToken: Command = {
  name: 'join-token',
  usage: '[OPTIONS] (worker|manager)',
  summary: 'Manage join tokens',
  flags: [
    { name: 'quiet', short: 'q', kind: 'bool', help: 'Only display token' },
    { name: 'rotate', kind: 'bool', help: 'Rotate join token' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, args) {
    const role = args.positionals[0]!;
    if (role !== 'worker' && role !== 'manager') throw usageError(`unknown role ${role}`);
    const client = ctx.client();
    if (args.bool('rotate')) {
      const current = await client.get<ApiSwarm>('/swarm');
      await client.post('/swarm/update', current?.Spec ?? {}, {
        rotateManagerToken: role === 'manager',
        rotateManagerUnlockKey: false,
        rotateWorkerToken: role === 'worker',
        version: current?.Version?.Index ?? 0,
      });
      if (!args.bool('quiet')) ctx.write(`Successfully rotated ${role} join token.\n\n`);
    }
    const swarm = await client.get<ApiSwarm>('/swarm');
    if (args.bool('quiet')) {
      ctx.out((role === 'worker' ? swarm?.JoinTokens?.Worker : swarm?.JoinTokens?.Manager) ?? '');
      return 0;
    }
    const info = await client.get<ApiInfo>('/info');
    await printJoinCommand(ctx, info?.Swarm?.NodeID ?? '', { worker: role === 'worker', manager: role === 'manager' });
    return 0;
  },
};

async function printJoinCommand(ctx: CommandContext, nodeId: string, roles: { worker: boolean; manager: boolean }): Promise<void> {
  const client = ctx.client();
  const node = await client.get<ApiNode>(`/nodes/${encodeURIComponent(nodeId)}`);
  const swarm = await client.get<ApiSwarm>('/swarm');
  const addr = node?.ManagerStatus?.Addr;
  if (addr === undefined) return;
  for (const role of ['worker', 'manager'] as const) {
    if (!roles[role]) continue;
    const token = role === 'worker' ? swarm?.JoinTokens?.Worker : swarm?.JoinTokens?.Manager;
    ctx.write(`To add a ${role} to this swarm, run the following command:\n\n    routemesh swarm join --token ${token ?? ''} ${addr}\n\n`);
  }
}

const leave: Command = {
  name: 'leave',
  usage: '[OPTIONS]',
  summary: 'Leave the swarm',
  flags: [{ name: 'force', short: 'f', kind: 'bool', help: 'Force this node to leave the swarm, ignoring warnings' }],
  maxArgs: 0,
  async run(ctx, args) {
    await ctx.client().post('/swarm/leave', undefined, args.bool('force') ? { force: 1 } : undefined);
    ctx.out('Node left the swarm.');
    return 0;
  },
};

export const swarmGroup: CommandGroup = {
  name: 'swarm',
  summary: 'Manage Swarm',
  commands: [init, join, joinToken, leave],
};

