// `routemesh node ...`: ls, inspect, update, promote, demote, rm — the requests and messages of
// `docker node` (SPEC.md §3.6-3.10) — fail/recover, routemesh's fault injection, and start (nodeStart.ts).
import type { ApiInfo, ApiNode } from '../apiTypes.js';
import type { Command, CommandGroup } from '../Command.js';
import type { CommandContext } from '../CommandContext.js';
import { failure } from '../errors.js';
import { choiceFlag, type FlagSpec } from '../flags.js';
import { keyValueMap } from '../serviceSpec.js';
import { inspectJson } from '../views/inspectJson.js';
import { renderNodeList, sortNodes } from '../views/nodeList.js';
import { renderNodePretty } from '../views/nodePretty.js';
import { eachRef, failOnErrors } from './eachRef.js';
import { createNodeStartCommand } from './nodeStart.js';

const nodePath = (ref: string): string => `/nodes/${encodeURIComponent(ref)}`;

const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  summary: 'List nodes in the swarm',
  flags: [{ name: 'quiet', short: 'q', kind: 'bool', help: 'Only display IDs' }],
  maxArgs: 0,
  async run(ctx, args) {
    const client = ctx.client();
    const nodes = sortNodes((await client.get<ApiNode[]>('/nodes')) ?? []);
    if (args.bool('quiet')) {
      for (const n of nodes) ctx.out(n.ID);
      return 0;
    }
    // The node answering is marked with *; docker asks /info only when there is something to mark.
    const self = nodes.length > 0 ? (await client.get<ApiInfo>('/info'))?.Swarm?.NodeID : undefined;
    ctx.write(renderNodeList(nodes, self));
    return 0;
  },
};

/** `self` names the node whose engine answers, as in docker. */
async function resolveRef(ctx: CommandContext, ref: string): Promise<string> {
  if (ref !== 'self') return ref;
  const info = await ctx.client().get<ApiInfo>('/info');
  return info?.Swarm?.NodeID ?? ref;
}

const inspect: Command = {
  name: 'inspect',
  usage: '[OPTIONS] self|NODE [NODE...]',
  summary: 'Display detailed information on one or more nodes',
  flags: [{ name: 'pretty', kind: 'bool', help: 'Print the information in a human friendly format' }],
  minArgs: 1,
  async run(ctx, args) {
    const { done: found, errors } = await eachRef(args.positionals,
      async (ref) => ctx.client().get<ApiNode>(nodePath(await resolveRef(ctx, ref))));
    // Like docker: what was found is printed first, then the failures.
    if (args.bool('pretty')) ctx.write(found.map(renderNodePretty).join('\n'));
    else ctx.write(inspectJson(found));
    failOnErrors(errors);
    return 0;
  },
};

/** Docker sends the whole NodeSpec back, labels always present (SPEC.md trap 16). */
function nodeSpec(node: ApiNode, changes: { role?: string; availability?: string; labels?: Record<string, string> }) {
  const spec = node.Spec ?? {};
  return {
    ...(spec.Name ? { Name: spec.Name } : {}),
    Labels: changes.labels ?? spec.Labels ?? {},
    Role: changes.role ?? spec.Role,
    Availability: changes.availability ?? spec.Availability,
  };
}

async function postNodeUpdate(ctx: CommandContext, node: ApiNode, spec: unknown): Promise<void> {
  await ctx.client().post(`/nodes/${encodeURIComponent(node.ID)}/update`, spec, { version: node.Version?.Index ?? 0 });
}

const UPDATE_FLAGS: readonly FlagSpec[] = [
  { name: 'availability', kind: 'string', help: 'Availability of the node ("active", "pause", "drain")' },
  { name: 'label-add', kind: 'list', help: 'Add or update a node label (key=value)' },
  { name: 'label-rm', kind: 'list', help: 'Remove a node label if exists' },
  { name: 'role', kind: 'string', help: 'Role of the node ("worker", "manager")' },
];

const update: Command = {
  name: 'update',
  usage: '[OPTIONS] NODE',
  summary: 'Update a node',
  details: 'drain moves the node\'s tasks to other nodes; pause keeps them but places no new ones there.',
  flags: UPDATE_FLAGS,
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, args) {
    const ref = args.positionals[0]!;
    const availability = choiceFlag(args, 'availability', ['active', 'pause', 'drain']);
    const role = choiceFlag(args, 'role', ['worker', 'manager']);
    const node = await ctx.client().get<ApiNode>(nodePath(ref));
    const labels: Record<string, string> = { ...(node.Spec?.Labels ?? {}), ...keyValueMap(args.list('label-add')) };
    for (const key of args.list('label-rm')) {
      if (!(key in labels)) throw failure(`key ${key} doesn't exist in node's labels`);
      delete labels[key];
    }
    const sorted = keyValueMap(Object.entries(labels).map(([k, v]) => `${k}=${v}`));
    await postNodeUpdate(ctx, node, nodeSpec(node, {
      labels: sorted,
      ...(role !== undefined ? { role } : {}),
      ...(availability !== undefined ? { availability } : {}),
    }));
    ctx.out(ref);
    return 0;
  },
};

function roleChange(name: 'promote' | 'demote'): Command {
  const role = name === 'promote' ? 'manager' : 'worker';
  return {
    name,
    usage: 'NODE [NODE...]',
    summary: name === 'promote' ? 'Promote one or more nodes to manager in the swarm' : 'Demote one or more nodes from manager in the swarm',
    flags: [],
    minArgs: 1,
    async run(ctx, args) {
      for (const ref of args.positionals) {
        const node = await ctx.client().get<ApiNode>(nodePath(ref));
        if (node.Spec?.Role === role) {
          ctx.out(`Node ${node.ID} is already a ${role}.`);
          continue;
        }
        await postNodeUpdate(ctx, node, nodeSpec(node, { role }));
        ctx.out(name === 'promote' ? `Node ${ref} promoted to a manager in the swarm.` : `Manager ${ref} demoted in the swarm.`);
      }
      return 0;
    },
  };
}

const rm: Command = {
  name: 'rm',
  aliases: ['remove'],
  usage: '[OPTIONS] NODE [NODE...]',
  summary: 'Remove one or more nodes from the swarm',
  flags: [{ name: 'force', short: 'f', kind: 'bool', help: 'Force remove a node from the swarm' }],
  minArgs: 1,
  async run(ctx, args) {
    const { errors } = await eachRef(args.positionals, async (ref) => {
      await ctx.client().delete(nodePath(ref), args.bool('force') ? { force: 1 } : undefined);
      ctx.out(ref);
    });
    failOnErrors(errors);
    return 0;
  },
};

/** Fault injection, routemesh's own (not a docker verb): a node powered off, or on again. */
function fault(action: 'fail' | 'recover'): Command {
  return {
    name: action,
    usage: 'NODE [NODE...]',
    summary: action === 'fail'
      ? 'Power a node off: its tasks die, its ports and engine API close, the managers mark it Down (routemesh only)'
      : 'Power a failed node on again: it rejoins and comes back Ready, empty (routemesh only)',
    details: 'NODE is a hostname such as node3. Any engine takes the request, so a failed node can be recovered through another.',
    flags: [],
    minArgs: 1,
    async run(ctx, args) {
      const { errors } = await eachRef(args.positionals, async (ref) => {
        await ctx.client().post(`/routemesh/nodes/${encodeURIComponent(ref)}/${action}`);
        ctx.out(ref);
      });
      failOnErrors(errors);
      return 0;
    },
  };
}

export const nodeGroup: CommandGroup = {
  name: 'node',
  summary: 'Manage Swarm nodes',
  commands: [ls, inspect, update, roleChange('promote'), roleChange('demote'), rm, fault('fail'), fault('recover'), createNodeStartCommand()],
};
