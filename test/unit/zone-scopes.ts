// The zone's scopes: a source the zone's scopeOf places in scopes is answered only the services sharing
// one, at their addresses in it; names of other services are NXDOMAIN for it; other sources get the
// unscoped answers. Pure: records in, answers out.
import t from 'tap';
import { Zone } from '../../src/vip-dns/index.js';
import type { ServiceRecord } from '../../src/vip-dns/index.js';

const OPTIONS = { vipTtl: 600, taskTtl: 5 };
const web: ServiceRecord = {
  name: 'web', vip: '127.10.0.2', ports: [{ port: 80, protocol: 'tcp' }], networks: ['ingress', 'front'],
  tasks: [{ name: 'web.1.t1', address: '127.20.0.3', scopedAddresses: new Map([['n-front', '127.1.128.3']]) }],
  scopes: [{ scope: 'n-front', network: 'front', vip: '127.1.128.2', aliases: ['www'] }],
};
const db: ServiceRecord = {
  name: 'db', vip: '127.10.0.4', ports: [], networks: ['ingress', 'back'],
  tasks: [{ name: 'db.1.t2', address: '127.20.0.5', scopedAddresses: new Map([['n-back', '127.1.129.3']]) }],
  scopes: [{ scope: 'n-back', network: 'back', vip: '127.1.129.2' }],
};
const sources = new Map([['127.1.128.9', new Set(['n-front'])], ['127.1.129.9', new Set(['n-back'])], ['127.1.130.9', new Set(['n-front', 'n-back'])]]);
const zone = new Zone([web, db], OPTIONS, (source) => sources.get(source));
const a = (name: string, source?: string) => {
  const answer = zone.lookup(name, 'A', source);
  return answer?.rcode === 'NOERROR' ? answer.answers.map((r) => (r.type === 'A' ? r.address : r.type)).sort() : answer?.rcode;
};

const rows: [string, string | undefined, unknown][] = [
  ['web', '127.1.128.9', ['127.1.128.2']],
  ['WEB.front', '127.1.128.9', ['127.1.128.2']],
  ['www', '127.1.128.9', ['127.1.128.2']],
  ['tasks.web', '127.1.128.9', ['127.1.128.3']],
  ['tasks.web.front', '127.1.128.9', ['127.1.128.3']],
  ['web.1.t1', '127.1.128.9', ['127.1.128.3']],
  ['db', '127.1.128.9', 'NXDOMAIN'],
  ['web.ingress', '127.1.128.9', 'NXDOMAIN'],
  ['web', '127.1.129.9', 'NXDOMAIN'],
  ['www', '127.1.129.9', 'NXDOMAIN'],
  ['db', '127.1.129.9', ['127.1.129.2']],
  ['web', '127.1.130.9', ['127.1.128.2']],
  ['db', '127.1.130.9', ['127.1.129.2']],
  ['web', '127.0.0.1', ['127.10.0.2']],
  ['web', undefined, ['127.10.0.2']],
  ['tasks.db', undefined, ['127.20.0.5']],
  ['www', undefined, undefined],
  ['example.com', '127.1.128.9', undefined],
];
for (const [name, source, expected] of rows) {
  t.strictSame(a(name, source), expected, `${name} from ${source ?? 'no source'}`);
}

t.test('reverse names of network addresses', async (t) => {
  t.strictSame(zone.lookup('2.128.1.127.in-addr.arpa', 'PTR', '127.1.129.9')?.answers.map((r) => r.type === 'PTR' && r.target), ['web']);
  t.strictSame(zone.lookup('3.129.1.127.in-addr.arpa', 'PTR')?.answers.map((r) => r.type === 'PTR' && r.target), ['db.1.t2']);
});

t.test('a scoped query costs the services its labels name, not the zone', async (t) => {
  const many: ServiceRecord[] = [];
  for (let i = 0; i < 20000; i++) many.push({ name: `s${i}`, vip: `127.10.${i >> 8}.${i & 255}`, ports: [], tasks: [], scopes: [{ scope: `n${i % 7}`, network: `net${i % 7}`, vip: `127.2.${i >> 8}.${i & 255}` }] });
  let asked = 0;
  const big = new Zone(many, OPTIONS, () => { asked++; return new Set(['n3']); });
  t.strictSame(big.lookup('s10', 'A', '127.9.9.9')?.answers.map((r) => r.type === 'A' && r.address), ['127.2.0.10']);
  t.equal(big.lookup('s11', 'A', '127.9.9.9')?.rcode, 'NXDOMAIN');
  t.equal(asked, 2, 'the source is placed once per query');
});
