// `routemesh trace`: every balancing decision of the mesh, live, from every node (each node's engine API
// streams its own: GET /routemesh/trace), until Ctrl-C or --count picks. routemesh's own verb.
import type { ApiNode, ApiTraceRecord } from '../apiTypes.js';
import type { Command } from '../Command.js';
import { EngineClient } from '../EngineClient.js';
import { failure } from '../errors.js';
import { intFlag } from '../flags.js';
import { traceLine } from '../views/traceLine.js';

export const traceCommand: Command = {
  name: 'trace',
  usage: '[OPTIONS]',
  summary: 'Follow every balancing decision of the mesh, on every node (routemesh only)',
  details: 'Each line is one decision: the node, the listener, the client, the task chosen, the algorithm, and the pool as\n' +
    'that node saw it (each task\'s state and open connections). Failed connects (the reason for a retry), failures\n' +
    'to place a connection and ejections are lines too. A node whose reader falls behind drops records and says how many.',
  flags: [
    { name: 'service', kind: 'string', valueName: 'service', help: "Only this service's decisions" },
    { name: 'node', kind: 'string', valueName: 'node', help: "Only this node's decisions (its hostname)" },
    { name: 'json', kind: 'bool', help: 'One JSON record a line, as the nodes send them' },
    { name: 'count', short: 'c', kind: 'string', valueName: 'int', help: 'Stop after this many picks' },
  ],
  maxArgs: 0,
  async run(ctx, args) {
    const client = ctx.client();
    const count = intFlag(args, 'count', { min: 1 });
    const only = args.string('node');
    const nodes = ((await client.get<ApiNode[]>('/nodes')) ?? []).filter((n) => !only || n.Description?.Hostname === only);
    if (!nodes.length) throw failure(only ? `node ${only} not found: routemesh node ls names the nodes` : 'the swarm has no nodes');
    // Nodes' engine APIs share the port of the one asked (each on its own address).
    const port = new URL(client.baseUrl).port || '2375';
    const service = args.string('service');
    const streams = await Promise.all(nodes.map((node) => {
      const engine = new EngineClient(`http://${node.Status?.Addr}:${port}`, { apiVersion: '1.50' });
      return engine.stream('/routemesh/trace', service ? { service } : undefined).then((res) => ({ engine, res }));
    }));
    let picks = 0;
    const stopAll = (): void => { for (const { res, engine } of streams) { res.destroy(); engine.close(); } };
    const unsubscribe = ctx.onInterrupt(stopAll);
    try {
      await Promise.all(streams.map(async ({ res }) => {
        let pending = '';
        for await (const chunk of res as AsyncIterable<Buffer>) {
          pending += chunk.toString('utf8');
          let newline: number;
          while ((newline = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, newline);
            pending = pending.slice(newline + 1);
            if (count !== undefined && picks >= count) continue;
            const record = JSON.parse(line) as ApiTraceRecord;
            ctx.out(args.bool('json') ? line : traceLine(record));
            if (record.type === 'pick' && count !== undefined && ++picks >= count) stopAll();
          }
        }
      }).map((reading) => reading.catch((error: Error) => { if (!streams.every(({ res }) => res.destroyed)) throw error; })));
    } finally {
      unsubscribe();
      stopAll();
    }
    return 0;
  },
};
