// `up`'s cluster as one OS process per node: starts each (`routemesh node start`), waits until every
// engine API answers, forms the swarm through them, says when one dies, and stops them all.
import net from 'node:net';
import path from 'node:path';
import type { ClusterNodeInfo } from '../engine/index.js';
import type { ApiInfo } from './apiTypes.js';
import type { UpCluster } from './commands/up.js';
import { dnsPortAnswering } from './dnsProbe.js';
import { EngineClient } from './EngineClient.js';
import { failure } from './errors.js';
import { NodeProcess } from './NodeProcess.js';
import { nodeSettingsArgs, type NodeSettings } from './nodeFlags.js';
import { sleep } from './sleep.js';
import { formSwarm } from './swarmFormation.js';

export interface SupervisorOptions {
  nodes: number;
  managers: number;
  /** Node i (1-based) gets the subnet's i-th address. */
  subnet: string;
  settings: NodeSettings & { socketDir: string };
  /** Engines up but not in a swarm. */
  bare: boolean;
  engineLabels?: Record<string, Record<string, string>>;
  /** Node `nodeN` keeps its data in `<dataDir>/nodeN`. */
  dataDir: string;
  log: (line: string) => void;
  /** Where the node processes' own log lines go, as they are. */
  output: (line: string) => void;
  /** How the user runs routemesh, in the command that starts a dead node again. */
  command: string;
  pollMs: number;
  /** Aborted on Ctrl-C: stop waiting. */
  signal: AbortSignal;
}

/** How long a node process gets to answer on its engine API. */
const READY_DEADLINE_MS = 30_000;

/** Where a VIP's port below 1024 listens without root (the engine's UNPRIVILEGED_PORT_SHIFT). */
const UNPRIVILEGED_PORT_SHIFT = 10_000;

export class NodeSupervisor implements UpCluster {
  readonly processPerNode = true;
  readonly #options: SupervisorOptions;
  readonly #processes: NodeProcess[] = [];
  #nodes: ClusterNodeInfo[] = [];
  #dnsPort: number | undefined;
  #started = false;

  constructor(options: SupervisorOptions) {
    this.#options = options;
  }

  get nodes(): readonly ClusterNodeInfo[] {
    return this.#nodes;
  }

  get dnsServer(): UpCluster['dnsServer'] {
    const { address, port } = splitDnsAddress(this.#options.settings.dns);
    const upstreams = this.#options.settings.dnsUpstreams?.map((text) => { const u = splitDnsAddress(text); return { address: u.address, port: u.port ?? 53 }; });
    return { address, port: this.#dnsPort ?? port ?? 53, ...(upstreams ? { upstreams } : {}) };
  }

  /** Starts every node process; once each answers, forms the swarm. On a failure, stops what it started and says why. */
  async start(): Promise<void> {
    const { nodes, subnet, settings, dataDir, log, command } = this.#options;
    const base = ipToInt(subnet.split('/')[0]!);
    for (let i = 1; i <= nodes; i++) {
      const hostname = `node${i}`;
      const address = intToIp(base + i);
      const labels = Object.entries(this.#options.engineLabels?.[hostname] ?? {}).flatMap(([k, v]) => ['--engine-label', `${k}=${v}`]);
      const node = new NodeProcess({
        hostname, output: this.#options.output, command,
        args: ['--address', address, '--hostname', hostname, '--data-dir', path.join(dataDir, hostname), ...nodeSettingsArgs(settings), ...labels],
      });
      this.#processes.push(node);
      // A death before its engine API answers is start()'s error, with the node's last words.
      void node.exited.then((how) => {
        if (this.#started && !node.stopping) log(`${hostname} (pid ${node.pid}) ${how}: start it again with ${node.restartCommand}`);
      });
    }
    try {
      await Promise.all(this.#processes.map((node, i) => this.#ready(node, intToIp(base + i + 1))));
      this.#started = true;
      const members = this.#processes.map((node, i) => ({ hostname: node.hostname, address: intToIp(base + i + 1), client: this.#client(intToIp(base + i + 1)) }));
      try {
        if (!this.#options.bare) await formSwarm(members, { managers: this.#options.managers, log, pollMs: this.#options.pollMs, signal: this.#options.signal });
        this.#nodes = await Promise.all(members.map((m) => this.#info(m.hostname, m.address, m.client)));
      } finally {
        for (const m of members) m.client.close();
      }
      const dns = splitDnsAddress(settings.dns);
      this.#dnsPort = await dnsPortAnswering(dns.address, dns.port === undefined ? [] : [dns.port], intToIp(ipToInt(settings.vipSubnet.split('/')[0]!) + 1));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  #client(address: string): EngineClient {
    return new EngineClient(`http://${address}:${this.#options.settings.apiPort}`, { host: `tcp://${address}:${this.#options.settings.apiPort}` });
  }

  /** Until the node's engine API answers /_ping; its death, the deadline or Ctrl-C end the wait with an error. */
  async #ready(node: NodeProcess, address: string): Promise<void> {
    const url = `http://${address}:${this.#options.settings.apiPort}/_ping`;
    const deadline = Date.now() + READY_DEADLINE_MS;
    while (node.running) {
      try {
        if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
      } catch { /* not listening yet */ }
      if (Date.now() >= deadline) {
        throw failure(`cannot start the cluster: ${node.hostname} (pid ${node.pid}) did not answer on ${url} within ${READY_DEADLINE_MS / 1000} s`);
      }
      if (await sleep(50, this.#options.signal)) throw failure('cannot start the cluster: interrupted while the nodes were starting');
    }
    const how = await node.exited;
    throw failure(`cannot start the cluster: ${node.hostname} (pid ${node.pid}) ${how} before its engine API answered` +
      (node.lastLines.length ? `; its last words:\n  ${node.lastLines.join('\n  ')}` : ''));
  }

  async #info(hostname: string, address: string, client: EngineClient): Promise<ClusterNodeInfo> {
    const swarm = (await client.get<ApiInfo>('/info')).Swarm;
    const { apiPort, socketDir, metricsPort } = this.#options.settings;
    return {
      hostname,
      address,
      role: swarm?.LocalNodeState !== 'active' ? 'none' : swarm.ControlAvailable ? 'manager' : 'worker',
      apiUrl: `http://${address}:${apiPort}`,
      socketUrl: `unix://${path.join(socketDir, `${address}.sock`)}`,
      nodeId: swarm?.NodeID ?? '',
      ...(metricsPort !== undefined ? { metricsUrl: `http://${address}:${metricsPort}/metrics` } : {}),
    };
  }

  /** `vip:port` where a node process listens for it (a port below 1024 moves without root); undefined if none does. */
  async vipEndpoint(vip: string, port: number): Promise<string | undefined> {
    for (const candidate of port < 1024 ? [port, port + UNPRIVILEGED_PORT_SHIFT] : [port]) {
      if (await accepts(vip, candidate)) return `${vip}:${candidate}`;
    }
    return undefined;
  }

  /** Stops every node process (SIGTERM, and SIGKILL for one that hangs), all at once. */
  async close(): Promise<void> {
    await Promise.all(this.#processes.map((node) => node.stop()));
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1000 });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.once('connect', () => done(true)).once('error', () => done(false)).once('timeout', () => done(false));
  });
}

/** `ADDR`, `ADDR:PORT` or `[V6]:PORT`, as --dns and --dns-upstream take them (the nodes check them). */
function splitDnsAddress(text: string): { address: string; port: number | undefined } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text.trim()) ?? (net.isIPv6(text.trim()) ? undefined : /^([^:]*)(?::(\d+))?$/.exec(text.trim()));
  if (!m) return { address: text.trim(), port: undefined };
  return { address: m[1]!, port: m[2] === undefined ? undefined : Number(m[2]) };
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}
