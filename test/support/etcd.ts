// Test support for etcd: a member or a cluster of the test's own (Debian's etcd-server), and a TCP proxy
// in front of it that can cut every connection (mid-stream, after so many bytes) and refuse new ones.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { waitFor } from './cluster.js';

export interface EtcdMember {
  /** `host:port` of its client URL. */
  endpoint: string;
  /** Runs etcdctl against it; resolves with its stdout. */
  ctl(...args: string[]): Promise<string>;
  /** SIGKILLs it (its data stays) and resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts it again on its data, and resolves once it is running (not necessarily healthy: without a quorum it is not). */
  restart(): void;
}

/**
 * Starts one etcd member on `address` (client 2379, peer 2380), its data on tmpfs where there is one (a
 * test's thousands of writes then need no fsync), and stops it and removes its data at the test's end.
 */
export async function startEtcd(t: Test, address: string): Promise<EtcdMember> {
  return (await startEtcdCluster(t, [address]))[0]!;
}

/** An etcd cluster of a member on each address, healthy when this resolves; stopped and removed at the test's end. */
export async function startEtcdCluster(t: Test, addresses: readonly string[]): Promise<EtcdMember[]> {
  const peerOf = (address: string) => `http://${address}:2380`;
  const initialCluster = addresses.map((address) => `test-${address}=${peerOf(address)}`).join(',');
  const members = addresses.map((address) => etcdMember(t, address, initialCluster));
  await Promise.all(members.map((member) => waitFor(`etcd at ${member.endpoint} to answer`, async () => {
    if (member.died()) throw new Error(`etcd exited at start: ${member.stderr()}`);
    return member.ctl('endpoint', 'health').then(() => true, () => undefined);
  }, 20_000)));
  return members;
}

function etcdMember(t: Test, address: string, initialCluster: string): EtcdMember & { died(): boolean; stderr(): string } {
  const dataDir = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'routemesh-etcd-'));
  const client = `http://${address}:2379`;
  const peer = `http://${address}:2380`;
  let stderr = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let died = false;
  const start = () => {
    const etcd = spawn('etcd', [
      '--name', `test-${address}`, '--data-dir', dataDir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new',
      '--auto-compaction-mode', 'revision', '--auto-compaction-retention', '1000',
      '--log-level', 'error',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    etcd.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
    died = false;
    exited = new Promise<void>((resolve) => etcd.once('exit', () => { died = true; resolve(); }));
    child = etcd;
  };
  const kill = async () => {
    child?.kill('SIGKILL');
    await exited;
  };
  t.teardown(async () => {
    await kill();
    rmSync(dataDir, { recursive: true, force: true });
  });
  start();
  const ctl = (...args: string[]) => new Promise<string>((resolve, reject) => {
    const run = spawn('etcdctl', ['--endpoints', client, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
    let out = '';
    let err = '';
    run.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    run.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    run.on('error', reject);
    run.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`etcdctl ${args.join(' ')}: ${err.trim()}`))));
  });
  return { endpoint: `${address}:2379`, ctl, kill, restart: start, died: () => died, stderr: () => stderr.trim() };
}

export interface CuttingProxy {
  /** `host:port` to connect to instead of the member. */
  endpoint: string;
  /** Bytes sent from the member to clients so far. */
  readonly downstreamBytes: number;
  /** Cuts every connection once `bytes` more have gone from the member to clients (the rest of that chunk is not sent). */
  cutAfter(bytes: number): Promise<void>;
  /** Cuts every connection now, and refuses new ones until `reopen()`. */
  cutAndRefuse(): void;
  reopen(): void;
}

export async function cuttingProxy(t: Test, listenAddress: string, target: string): Promise<CuttingProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const pairs = new Set<[net.Socket, net.Socket]>();
  let downstreamBytes = 0;
  let refusing = false;
  let cut: { at: number; done: () => void } | undefined;
  const cutAll = () => {
    for (const [client, upstream] of pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  const server = net.createServer((client) => {
    if (refusing) return void client.resetAndDestroy();
    const upstream = net.connect(Number(targetPort), targetHost);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => { upstream.destroy(); pairs.delete(pair); });
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (cut && downstreamBytes + chunk.length >= cut.at) {
        const { done } = cut;
        cut = undefined;
        cutAll();
        done();
        return;
      }
      downstreamBytes += chunk.length;
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, listenAddress, resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    cutAll();
    server.close(() => resolve());
  }));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `${listenAddress}:${port}`,
    get downstreamBytes() { return downstreamBytes; },
    cutAfter: (bytes) => new Promise<void>((done) => { cut = { at: downstreamBytes + bytes, done }; }),
    cutAndRefuse: () => { refusing = true; cutAll(); },
    reopen: () => { refusing = false; },
  };
}
