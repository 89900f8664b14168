// The embedded DNS server's Zone as tables, no sockets: which names it owns, what each answers (records,
// TTLs, owner names), where it says NODATA or NXDOMAIN, and which names it leaves to the forwarder.
import t from 'tap';
import { Zone } from '../../src/vip-dns/index.js';
import type { QueryType, ServiceRecord, ZoneAnswer, ZoneRecord } from '../../src/vip-dns/index.js';

const VIP_TTL = 600;
const TASK_TTL = 5;

/** A vip-mode service on network `front`; task 1 listens for 80/tcp on 10080 (say, no root). */
const web: ServiceRecord = {
  name: 'my-web',
  vip: '127.10.0.2',
  tasks: [
    { name: 'my-web.1.aaa', address: '127.20.0.2', listenPorts: new Map([['80/tcp', 10080]]) },
    { name: 'my-web.2.bbb', address: '127.20.0.3' },
  ],
  ports: [{ port: 80, protocol: 'tcp' }, { port: 443, protocol: 'tcp' }],
  networks: ['front'],
};

const dbAddresses = ['127.20.1.1', '127.20.1.2', '127.20.1.3', '127.20.1.4', '127.20.1.5', '127.20.1.6'];
/** A dnsrr service (no vip) with six tasks. */
const db: ServiceRecord = {
  name: 'my-db',
  tasks: dbAddresses.map((address, i) => ({ name: `my-db.${i + 1}.d${i + 1}`, address })),
  ports: [{ port: 5432, protocol: 'tcp' }],
};

/** A vip-mode service scaled to 0, and a dnsrr one likewise. */
const idle: ServiceRecord = { name: 'idle', vip: '127.10.0.3', tasks: [], ports: [{ port: 80, protocol: 'tcp' }] };
const ghost: ServiceRecord = { name: 'ghost', tasks: [], ports: [] };

const zone = new Zone([web, db, idle, ghost], { vipTtl: VIP_TTL, taskTtl: TASK_TTL, ownedBlocks: ['127.10.0.0/16', '127.20.0.0/16'] });

const a = (name: string, address: string, ttl: number): ZoneRecord => ({ type: 'A', name, ttl, address });
const ptr = (name: string, target: string, ttl: number): ZoneRecord => ({ type: 'PTR', name, ttl, target });
const srv = (name: string, port: number, target: string): ZoneRecord => ({ type: 'SRV', name, ttl: TASK_TTL, priority: 0, weight: 1, port, target });

/** Records in a fixed order: answers are shuffled, the tables compare contents. */
function sorted(records: readonly ZoneRecord[]): ZoneRecord[] {
  const key = (r: ZoneRecord): string => `${r.type} ${r.name} ${'address' in r ? r.address : r.target} ${'port' in r ? r.port : ''}`;
  return [...records].sort((x, y) => key(x).localeCompare(key(y)));
}

function normalised(answer: ZoneAnswer | undefined): ZoneAnswer | undefined {
  return answer && { rcode: answer.rcode, answers: sorted(answer.answers), additionals: sorted(answer.additionals) };
}

const noError = (answers: ZoneRecord[], additionals: ZoneRecord[] = []): ZoneAnswer => ({ rcode: 'NOERROR', answers, additionals });
const NODATA = noError([]);
const NXDOMAIN: ZoneAnswer = { rcode: 'NXDOMAIN', answers: [], additionals: [] };

interface LookupRow {
  name: string;
  qname: string;
  type: QueryType;
  /** undefined: not ours, the server forwards it. */
  expect: ZoneAnswer | undefined;
}

const webTasks = (owner: string): ZoneRecord[] => [a(owner, '127.20.0.2', TASK_TTL), a(owner, '127.20.0.3', TASK_TTL)];
const dbTasks = (owner: string): ZoneRecord[] => dbAddresses.map((address) => a(owner, address, TASK_TTL));
const webSrv = (owner: string): ZoneAnswer => noError(
  [srv(owner, 10080, 'my-web.1.aaa'), srv(owner, 80, 'my-web.2.bbb')],
  [a('my-web.1.aaa', '127.20.0.2', TASK_TTL), a('my-web.2.bbb', '127.20.0.3', TASK_TTL)],
);

const lookupRows: LookupRow[] = [
  // Service names, tasks.<service>, container names.
  { name: 'a vip service name answers its VIP with the VIP TTL', qname: 'my-web', type: 'A', expect: noError([a('my-web', '127.10.0.2', VIP_TTL)]) },
  { name: 'a dnsrr service name answers every task address with the task TTL', qname: 'my-db', type: 'A', expect: noError(dbTasks('my-db')) },
  { name: 'tasks.<vip service> answers the task addresses, not the VIP', qname: 'tasks.my-web', type: 'A', expect: noError(webTasks('tasks.my-web')) },
  { name: 'tasks.<dnsrr service> answers the task addresses', qname: 'tasks.my-db', type: 'A', expect: noError(dbTasks('tasks.my-db')) },
  { name: 'a container name answers its own task address', qname: 'my-web.1.aaa', type: 'A', expect: noError([a('my-web.1.aaa', '127.20.0.2', TASK_TTL)]) },
  { name: 'another container name answers its own address', qname: 'my-db.4.d4', type: 'A', expect: noError([a('my-db.4.d4', '127.20.1.4', TASK_TTL)]) },
  // <name>.<network>.
  { name: '<service>.<network> answers the VIP', qname: 'my-web.front', type: 'A', expect: noError([a('my-web.front', '127.10.0.2', VIP_TTL)]) },
  { name: 'tasks.<service>.<network> answers the task addresses', qname: 'tasks.my-web.front', type: 'A', expect: noError(webTasks('tasks.my-web.front')) },
  { name: '<container>.<network> answers the task address', qname: 'my-web.2.bbb.front', type: 'A', expect: noError([a('my-web.2.bbb.front', '127.20.0.3', TASK_TTL)]) },
  { name: 'SRV on <service>.<network> lists the tasks', qname: '_80._tcp.my-web.front', type: 'SRV', expect: webSrv('_80._tcp.my-web.front') },
  // Case and the trailing dot: matched loosely, answered with the name as asked.
  { name: 'an upper-case service name matches, answered as asked', qname: 'MY-WEB', type: 'A', expect: noError([a('MY-WEB', '127.10.0.2', VIP_TTL)]) },
  { name: 'a mixed-case tasks name matches, answered as asked', qname: 'Tasks.My-Web', type: 'A', expect: noError(webTasks('Tasks.My-Web')) },
  { name: 'a mixed-case container name matches', qname: 'My-Web.1.AAA', type: 'A', expect: noError([a('My-Web.1.AAA', '127.20.0.2', TASK_TTL)]) },
  { name: 'a fully qualified name (trailing dot) matches', qname: 'my-web.', type: 'A', expect: noError([a('my-web', '127.10.0.2', VIP_TTL)]) },
  { name: 'a fully qualified tasks name (trailing dot) matches', qname: 'tasks.my-db.', type: 'A', expect: noError(dbTasks('tasks.my-db')) },
  // NODATA: a name we own, a type we have nothing of.
  { name: 'AAAA on a service name is NOERROR with no records', qname: 'my-web', type: 'AAAA', expect: NODATA },
  { name: 'AAAA on a tasks name is NOERROR with no records', qname: 'tasks.my-web', type: 'AAAA', expect: NODATA },
  { name: 'AAAA on a container name is NOERROR with no records', qname: 'my-web.1.aaa', type: 'AAAA', expect: NODATA },
  { name: 'MX/TXT (OTHER) on a service name is NOERROR with no records', qname: 'my-web', type: 'OTHER', expect: NODATA },
  { name: 'OTHER on a dnsrr name is NOERROR with no records', qname: 'my-db', type: 'OTHER', expect: NODATA },
  { name: 'SRV on a bare service name is NOERROR with no records', qname: 'my-web', type: 'SRV', expect: NODATA },
  { name: 'PTR on a service name is NOERROR with no records', qname: 'my-web', type: 'PTR', expect: NODATA },
  { name: 'A on an SRV name is NOERROR with no records', qname: '_80._tcp.my-web', type: 'A', expect: NODATA },
  { name: 'A on a task reverse name is NOERROR with no records', qname: '2.0.20.127.in-addr.arpa', type: 'A', expect: NODATA },
  // NXDOMAIN: unknown names under the subtrees we own.
  { name: 'an unknown label under tasks.<service> is NXDOMAIN for AAAA too', qname: 'x.tasks.my-web', type: 'AAAA', expect: NXDOMAIN },
  { name: 'an SRV name for a port the service lacks is NXDOMAIN', qname: '_81._tcp.my-web', type: 'SRV', expect: NXDOMAIN },
  { name: 'an SRV name for a protocol the service lacks is NXDOMAIN', qname: '_80._udp.my-web', type: 'SRV', expect: NXDOMAIN },
  { name: 'a name under tasks.<service> is NXDOMAIN', qname: 'foo.tasks.my-web', type: 'A', expect: NXDOMAIN },
  { name: 'a name under a container name is NXDOMAIN', qname: 'foo.my-web.1.aaa', type: 'A', expect: NXDOMAIN },
  { name: 'a name under tasks.<service>.<network> is NXDOMAIN', qname: 'x.tasks.my-web.front', type: 'A', expect: NXDOMAIN },
  { name: 'an unknown name under an upper-case owned name is NXDOMAIN', qname: 'X.TASKS.MY-WEB', type: 'A', expect: NXDOMAIN },
  { name: 'an unknown name under an owned name with a trailing dot is NXDOMAIN', qname: 'x.tasks.my-web.', type: 'A', expect: NXDOMAIN },
  // Not ours: forwarded.
  { name: 'a name under a bare service name is not ours (as in Swarm: a service `dev` must not swallow `pkg.go.dev`)', qname: 'x.my-web', type: 'A', expect: undefined },
  { name: 'a name under <service>.<network> is not ours either', qname: 'x.my-web.front', type: 'A', expect: undefined },
  { name: 'an outside name is not ours', qname: 'example.org', type: 'A', expect: undefined },
  { name: 'tasks.<unknown service> is not ours', qname: 'tasks.nosuch', type: 'A', expect: undefined },
  { name: 'a name that merely starts like a service is not ours', qname: 'my-webx', type: 'A', expect: undefined },
  { name: 'a name that is a suffix of a service name is not ours', qname: 'web', type: 'A', expect: undefined },
  { name: 'a service under a network it is not on is not ours', qname: 'my-web.back', type: 'A', expect: undefined },
  { name: 'an outside name is not ours for AAAA either', qname: 'example.org', type: 'AAAA', expect: undefined },
  // PTR.
  { name: 'PTR of a task address names its container, task TTL', qname: '2.0.20.127.in-addr.arpa', type: 'PTR', expect: noError([ptr('2.0.20.127.in-addr.arpa', 'my-web.1.aaa', TASK_TTL)]) },
  { name: 'PTR of a dnsrr task address names its container', qname: '6.1.20.127.in-addr.arpa', type: 'PTR', expect: noError([ptr('6.1.20.127.in-addr.arpa', 'my-db.6.d6', TASK_TTL)]) },
  { name: 'PTR of a VIP names the service, VIP TTL', qname: '2.0.10.127.in-addr.arpa', type: 'PTR', expect: noError([ptr('2.0.10.127.in-addr.arpa', 'my-web', VIP_TTL)]) },
  { name: 'PTR of an empty service\'s VIP names the service', qname: '3.0.10.127.in-addr.arpa', type: 'PTR', expect: noError([ptr('3.0.10.127.in-addr.arpa', 'idle', VIP_TTL)]) },
  { name: 'PTR matches an upper-case reverse name, answered as asked', qname: '2.0.20.127.IN-ADDR.ARPA', type: 'PTR', expect: noError([ptr('2.0.20.127.IN-ADDR.ARPA', 'my-web.1.aaa', TASK_TTL)]) },
  { name: 'ANY on a reverse name answers the PTR', qname: '3.0.20.127.in-addr.arpa', type: 'ANY', expect: noError([ptr('3.0.20.127.in-addr.arpa', 'my-web.2.bbb', TASK_TTL)]) },
  { name: 'PTR of an unknown address in the task block is NXDOMAIN', qname: '99.0.20.127.in-addr.arpa', type: 'PTR', expect: NXDOMAIN },
  { name: 'PTR of an unknown address in the VIP block is NXDOMAIN', qname: '99.0.10.127.in-addr.arpa', type: 'PTR', expect: NXDOMAIN },
  { name: 'PTR of the last address of an owned block is NXDOMAIN', qname: '255.255.20.127.in-addr.arpa', type: 'PTR', expect: NXDOMAIN },
  { name: 'PTR of the address just past an owned block is not ours', qname: '0.0.21.127.in-addr.arpa', type: 'PTR', expect: undefined },
  { name: 'PTR of an outside address is not ours', qname: '1.1.168.192.in-addr.arpa', type: 'PTR', expect: undefined },
  { name: 'a partial reverse name (two octets) is not ours', qname: '20.127.in-addr.arpa', type: 'PTR', expect: undefined },
  { name: 'a partial reverse name (three octets) is not ours', qname: '0.20.127.in-addr.arpa', type: 'PTR', expect: undefined },
  { name: 'a malformed reverse name is not ours', qname: '300.0.20.127.in-addr.arpa', type: 'PTR', expect: undefined },
  // SRV: one record per task, the real listening port, an additional A per target.
  { name: 'SRV lists every task: priority 0, weight 1, listen port, container name, plus their A records', qname: '_80._tcp.my-web', type: 'SRV', expect: webSrv('_80._tcp.my-web') },
  {
    name: 'SRV for a port no task moved gives the target port itself', qname: '_443._tcp.my-web', type: 'SRV',
    expect: noError([srv('_443._tcp.my-web', 443, 'my-web.1.aaa'), srv('_443._tcp.my-web', 443, 'my-web.2.bbb')], [a('my-web.1.aaa', '127.20.0.2', TASK_TTL), a('my-web.2.bbb', '127.20.0.3', TASK_TTL)]),
  },
  {
    name: 'SRV on a dnsrr service lists its six tasks', qname: '_5432._tcp.my-db', type: 'SRV',
    expect: noError(db.tasks.map((task) => srv('_5432._tcp.my-db', 5432, task.name)), db.tasks.map((task) => a(task.name, task.address, TASK_TTL))),
  },
  { name: 'SRV matches case-insensitively, answered as asked', qname: '_80._TCP.My-Web', type: 'SRV', expect: webSrv('_80._TCP.My-Web') },
  { name: 'ANY on an SRV name answers the SRV records', qname: '_80._tcp.my-web', type: 'ANY', expect: webSrv('_80._tcp.my-web') },
  // ANY.
  { name: 'ANY on a service name answers its A record', qname: 'my-web', type: 'ANY', expect: noError([a('my-web', '127.10.0.2', VIP_TTL)]) },
  { name: 'ANY on a tasks name answers the task A records', qname: 'tasks.my-web', type: 'ANY', expect: noError(webTasks('tasks.my-web')) },
  { name: 'ANY on a dnsrr name answers the task A records', qname: 'my-db', type: 'ANY', expect: noError(dbTasks('my-db')) },
  // Services with no tasks.
  { name: 'tasks.<empty service> is NOERROR with no records', qname: 'tasks.idle', type: 'A', expect: NODATA },
  { name: 'an empty vip service still answers its VIP', qname: 'idle', type: 'A', expect: noError([a('idle', '127.10.0.3', VIP_TTL)]) },
  { name: 'an empty dnsrr service name is NOERROR with no records', qname: 'ghost', type: 'A', expect: NODATA },
  { name: 'tasks.<empty dnsrr service> is NOERROR with no records', qname: 'tasks.ghost', type: 'A', expect: NODATA },
  { name: 'SRV on an empty service is NOERROR with no records', qname: '_80._tcp.idle', type: 'SRV', expect: NODATA },
];

for (const row of lookupRows) {
  t.test(`zone: ${row.name}`, async (t) => {
    t.strictSame(normalised(zone.lookup(row.qname, row.type)), row.expect, `${row.type} ${row.qname}`);
  });
}

t.test('zone: every SRV record has exactly one additional A for its target, with that task\'s address', async (t) => {
  const answer = zone.lookup('_80._tcp.my-web', 'SRV')!;
  const targets = answer.answers.map((r) => (r.type === 'SRV' ? r.target : '')).sort();
  const additionals = answer.additionals.map((r) => (r.type === 'A' ? r.name : '')).sort();
  t.strictSame(targets, ['my-web.1.aaa', 'my-web.2.bbb']);
  t.strictSame(additionals, targets, 'one additional per target, named as the target');
});

t.test('zone: a name owned by no block and asked PTR is forwarded when the zone owns no blocks', async (t) => {
  const bare = new Zone([web], { vipTtl: VIP_TTL, taskTtl: TASK_TTL });
  t.equal(bare.lookup('99.0.20.127.in-addr.arpa', 'PTR'), undefined, 'no owned blocks: an unknown address is not ours');
  t.strictSame(normalised(bare.lookup('2.0.20.127.in-addr.arpa', 'PTR')), noError([ptr('2.0.20.127.in-addr.arpa', 'my-web.1.aaa', TASK_TTL)]), 'a known address still answers');
});

t.test('zone: the TTLs come from the options', async (t) => {
  const other = new Zone([web, db], { vipTtl: 30, taskTtl: 1 });
  t.equal(other.lookup('my-web', 'A')!.answers[0]!.ttl, 30, 'VIP answer');
  t.strictSame(new Set(other.lookup('my-db', 'A')!.answers.map((r) => r.ttl)), new Set([1]), 'dnsrr answer');
  t.equal(other.lookup('2.0.10.127.in-addr.arpa', 'PTR')!.answers[0]!.ttl, 30, 'VIP PTR');
  t.equal(other.lookup('2.0.20.127.in-addr.arpa', 'PTR')!.answers[0]!.ttl, 1, 'task PTR');
  t.strictSame(new Set(other.lookup('_80._tcp.my-web', 'SRV')!.answers.map((r) => r.ttl)), new Set([1]), 'SRV answer');
});

t.test('zone: an empty zone owns nothing but its blocks', async (t) => {
  const empty = new Zone([], { vipTtl: VIP_TTL, taskTtl: TASK_TTL, ownedBlocks: ['127.20.0.0/16'] });
  t.equal(empty.lookup('my-web', 'A'), undefined);
  t.strictSame(empty.lookup('2.0.20.127.in-addr.arpa', 'PTR'), NXDOMAIN);
});

t.test('zone: multi-address answers are shuffled, always holding the same set', async (t) => {
  // Probabilistic, but safely so: with a fair shuffle the first of 6 addresses is the same in all
  // 200 draws with probability 6 * (1/6)^200, about 1e-155; a missing shuffle fails every run.
  const firsts = new Set<string>();
  let sameSet = 0;
  for (let i = 0; i < 200; i++) {
    const addresses = zone.lookup('my-db', 'A')!.answers.map((r) => (r.type === 'A' ? r.address : ''));
    firsts.add(addresses[0]!);
    if (addresses.length === 6 && [...addresses].sort().join() === [...dbAddresses].sort().join()) sameSet++;
  }
  t.equal(sameSet, 200, 'every answer holds all six addresses, once each');
  t.ok(firsts.size > 1, `more than one address came first (${firsts.size} did)`);
});

t.test('zone: SRV answers are shuffled too, each keeping its own port', async (t) => {
  // As above: two targets, the same first in all 200 draws with probability 2 * (1/2)^200.
  const firsts = new Set<string>();
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const answers = zone.lookup('_80._tcp.my-web', 'SRV')!.answers;
    const pairs = answers.map((r) => (r.type === 'SRV' ? `${r.target}:${r.port}` : ''));
    seen.add([...pairs].sort().join(' '));
    firsts.add(pairs[0]!);
  }
  t.strictSame([...seen], ['my-web.1.aaa:10080 my-web.2.bbb:80'], 'every answer pairs each target with its own port');
  t.equal(firsts.size, 2, 'both targets came first at some point');
});

t.test('zone: lookups do not change what the zone holds', async (t) => {
  // The shuffle works on a copy: after many lookups the stored list is still whole.
  for (let i = 0; i < 50; i++) zone.lookup('tasks.my-db', 'A');
  t.equal(zone.lookup('tasks.my-db', 'A')!.answers.length, 6);
  t.strictSame(db.tasks.map((task) => task.address), dbAddresses, 'the input records are untouched');
});

/**
 * 1,000 vip services `svc<i>` on network `ingress`, each with one task and port 80/tcp, and the names of
 * those whose names the zone made: it reads a service's ports only when it makes that service's names.
 */
function countedServices(): { services: ServiceRecord[]; made: Set<string> } {
  const made = new Set<string>();
  const services = Array.from({ length: 1000 }, (_, i): ServiceRecord => {
    const name = `svc${i}`;
    const ports = [{ port: 80, protocol: 'tcp' }];
    return {
      name, vip: `127.10.${i >> 8}.${i & 255}`, tasks: [{ name: `${name}.1.t${i}`, address: `127.20.${i >> 8}.${i & 255}` }], networks: ['ingress'],
      get ports() {
        made.add(name);
        return ports;
      },
    };
  });
  return { services, made };
}

const longUnknown = Array.from({ length: 120 }, () => 'a').join('.');

/** What a question answers in a fresh zone of 1,000 services, and whose names the zone made for it. */
const reachRows: { qname: string; type: QueryType; rcode: 'NOERROR' | 'NXDOMAIN' | undefined; made: string[] }[] = [
  { qname: longUnknown, type: 'A', rcode: undefined, made: [] },
  { qname: `${longUnknown}.svc7`, type: 'A', rcode: undefined, made: ['svc7'] },
  { qname: `${longUnknown}.tasks.svc7`, type: 'A', rcode: 'NXDOMAIN', made: ['svc7'] },
  { qname: `${longUnknown}.svc7.1.t7.ingress`, type: 'A', rcode: 'NXDOMAIN', made: ['svc7'] },
  { qname: 'svc500', type: 'A', rcode: 'NOERROR', made: ['svc500'] },
  { qname: 'TASKS.svc500.ingress', type: 'A', rcode: 'NOERROR', made: ['svc500'] },
  { qname: 'svc500.1.t500', type: 'A', rcode: 'NOERROR', made: ['svc500'] },
  { qname: '_80._tcp.svc500', type: 'SRV', rcode: 'NOERROR', made: ['svc500'] },
  { qname: '_81._tcp.svc500', type: 'SRV', rcode: 'NXDOMAIN', made: ['svc500'] },
  { qname: '244.1.20.127.in-addr.arpa', type: 'PTR', rcode: 'NOERROR', made: ['svc500'] },
  { qname: '244.1.10.127.in-addr.arpa', type: 'PTR', rcode: 'NOERROR', made: ['svc500'] },
  { qname: '99.99.20.127.in-addr.arpa', type: 'PTR', rcode: 'NXDOMAIN', made: [] },
];

for (const row of reachRows) {
  t.test(`zone: ${row.type} ${row.qname.length > 40 ? `<120 labels>${row.qname.slice(239)}` : row.qname} makes the names of ${row.made.join(', ') || 'no service'} of 1,000`, async (t) => {
    // A question goes to the services its labels name, not through every service in turn: an unknown
    // name must cost the same with 1,000 services as with one (anyone who reaches the DNS port may ask).
    const { services, made } = countedServices();
    const counted = new Zone(services, { vipTtl: VIP_TTL, taskTtl: TASK_TTL, ownedBlocks: ['127.10.0.0/16', '127.20.0.0/16'] });
    t.equal(counted.lookup(row.qname, row.type)?.rcode, row.rcode);
    t.strictSame([...made], row.made);
    counted.lookup(row.qname, row.type);
    t.strictSame([...made], row.made, 'asking again makes nothing more');
  });
}

t.test('zone: when two services both have a name, the first in record order answers, as before', async (t) => {
  // `tasks.x` is both service x's tasks name and service `tasks` on network x.
  const tasksService: ServiceRecord = { name: 'tasks', vip: '127.10.9.1', tasks: [], ports: [], networks: ['x'] };
  const x: ServiceRecord = { name: 'x', vip: '127.10.9.2', tasks: [{ name: 'x.1.a', address: '127.20.9.1' }], ports: [] };
  const options = { vipTtl: VIP_TTL, taskTtl: TASK_TTL };
  t.strictSame(new Zone([tasksService, x], options).lookup('tasks.x', 'A')!.answers, [a('tasks.x', '127.10.9.1', VIP_TTL)]);
  t.strictSame(new Zone([x, tasksService], options).lookup('tasks.x', 'A')!.answers, [a('tasks.x', '127.20.9.1', TASK_TTL)]);
});
