// Ipam and its CIDR helpers: allocation order, reuse, exhaustion, and what parseCidr refuses.
import t from 'tap';
import { Ipam, IpamError, intToIp, ipToInt, parseCidr } from '../../src/vip-dns/index.js';

function allocateAll(ipam: Ipam): string[] {
  const out: string[] = [];
  for (;;) {
    try {
      out.push(ipam.allocate());
    } catch (error) {
      if (error instanceof IpamError) return out;
      throw error;
    }
  }
}

interface OrderRow {
  name: string;
  cidr: string;
  expect: string[];
}

const orderRows: OrderRow[] = [
  {
    name: 'ipam hands out a /29 from .2 to .6, skipping the network, .1 and the last address',
    cidr: '127.20.0.0/29', expect: ['127.20.0.2', '127.20.0.3', '127.20.0.4', '127.20.0.5', '127.20.0.6'],
  },
  { name: 'ipam hands out the single usable address of a /30', cidr: '10.0.0.4/30', expect: ['10.0.0.6'] },
  {
    name: 'ipam aligns a block given with host bits set',
    cidr: '127.20.0.13/29', expect: ['127.20.0.10', '127.20.0.11', '127.20.0.12', '127.20.0.13', '127.20.0.14'],
  },
  {
    name: 'ipam crosses octet boundaries in a /23',
    cidr: '127.10.4.0/23',
    expect: Array.from({ length: 509 }, (_, i) => intToIp(ipToInt('127.10.4.2') + i)),
  },
];

for (const row of orderRows) {
  t.test(row.name, async (t) => {
    const ipam = new Ipam(row.cidr);
    const got = allocateAll(ipam);
    t.same(got, row.expect);
    t.equal(ipam.used, row.expect.length);
  });
}

t.test('ipam starts a /16 at .0.2 and reaches .1.0 after .0.255', async (t) => {
  const ipam = new Ipam('127.10.0.0/16');
  const first = Array.from({ length: 255 }, () => ipam.allocate());
  t.equal(first[0], '127.10.0.2');
  t.equal(first[253], '127.10.0.255');
  t.equal(first[254], '127.10.1.0');
});

t.test('ipam refuses with POOL_EXHAUSTED and a sentence that says what to do', async (t) => {
  const ipam = new Ipam('127.20.0.0/29');
  allocateAll(ipam);
  t.throws(() => ipam.allocate(), { name: 'Error', code: 'POOL_EXHAUSTED', message: /address pool 127\.20\.0\.0\/29 is exhausted: remove services or tasks, or choose a larger block/ });
  t.throws(() => ipam.allocate(), { code: 'POOL_EXHAUSTED' }, 'and keeps refusing');
  try { ipam.allocate(); } catch (error) { t.ok(error instanceof IpamError, 'an IpamError'); }
  t.equal(ipam.used, 5);
});

t.test('ipam allocates again after a release from an exhausted pool', async (t) => {
  const ipam = new Ipam('127.20.0.0/29');
  allocateAll(ipam);
  ipam.release('127.20.0.4');
  t.equal(ipam.allocate(), '127.20.0.4');
  t.throws(() => ipam.allocate(), { code: 'POOL_EXHAUSTED' });
});

t.test('ipam reuses a released address late, after the untouched ones', async (t) => {
  const ipam = new Ipam('127.20.0.0/29');
  t.equal(ipam.allocate(), '127.20.0.2');
  t.equal(ipam.allocate(), '127.20.0.3');
  ipam.release('127.20.0.2');
  t.equal(ipam.used, 1);
  t.same([ipam.allocate(), ipam.allocate(), ipam.allocate()], ['127.20.0.4', '127.20.0.5', '127.20.0.6']);
  t.equal(ipam.allocate(), '127.20.0.2', 'wraps around to the released one');
  t.throws(() => ipam.allocate(), { code: 'POOL_EXHAUSTED' });
});

t.test('ipam wraps around and skips addresses still in use', async (t) => {
  const ipam = new Ipam('127.20.0.0/29');
  allocateAll(ipam); // .2 .. .6, next is .2 again
  ipam.release('127.20.0.5');
  ipam.release('127.20.0.3');
  t.same([ipam.allocate(), ipam.allocate()], ['127.20.0.3', '127.20.0.5']);
});

t.test('ipam ignores the release of an address it never handed out', async (t) => {
  const ipam = new Ipam('127.20.0.0/29');
  ipam.allocate();
  ipam.release('127.20.0.6');
  ipam.release('192.168.1.1');
  t.equal(ipam.used, 1);
  t.equal(ipam.allocate(), '127.20.0.3');
});

t.test('ipam release refuses something that is not an address', async (t) => {
  const ipam = new Ipam('127.20.0.0/29');
  t.throws(() => ipam.release('nonsense'), { message: /'nonsense' is not an IPv4 address/ });
});

t.test('ipam takes back addresses handed out before (a restored swarm), and only its own', async (t) => {
  const ipam = new Ipam('127.20.0.0/29');
  ipam.reserve('127.20.0.2');
  ipam.reserve('127.20.0.4');
  t.same(allocateAll(ipam), ['127.20.0.3', '127.20.0.5', '127.20.0.6'], 'the reserved ones are skipped');
  t.throws(() => ipam.reserve('127.20.0.7'), { message: /127\.20\.0\.7 is not an address of pool 127\.20\.0\.0\/29/ }, 'the last address is never handed out');
  t.throws(() => ipam.reserve('127.21.0.2'), { message: /is not an address of pool/ });
});

t.test('ipam never hands out an address twice while it is in use (churn over a /27)', async (t) => {
  const ipam = new Ipam('127.20.0.0/27');
  const inUse = new Set<string>();
  const usable = new Set(Array.from({ length: 29 }, (_, i) => `127.20.0.${i + 2}`));
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let duplicates = 0;
  let outside = 0;
  let exhausted = 0;
  for (let step = 0; step < 2000; step++) {
    if (inUse.size > 0 && random() < 0.45) {
      const victim = [...inUse][Math.floor(random() * inUse.size)]!;
      inUse.delete(victim);
      ipam.release(victim);
    } else {
      try {
        const ip = ipam.allocate();
        if (inUse.has(ip)) duplicates++;
        if (!usable.has(ip)) outside++;
        inUse.add(ip);
      } catch (error) {
        t.type(error, IpamError);
        if (inUse.size !== usable.size) t.fail(`refused with only ${inUse.size} of ${usable.size} in use`);
        exhausted++;
      }
    }
    if (ipam.used !== inUse.size) t.fail(`used ${ipam.used} != ${inUse.size} at step ${step}`);
  }
  t.equal(duplicates, 0, 'no duplicate while in use');
  t.equal(outside, 0, 'every address inside .2 .. .30');
  t.ok(exhausted > 0, 'the churn reached exhaustion at least once');
});

t.test('two pools over different blocks are independent', async (t) => {
  const vips = new Ipam('127.10.0.0/16');
  const tasks = new Ipam('127.20.0.0/16');
  t.equal(vips.allocate(), '127.10.0.2');
  t.equal(tasks.allocate(), '127.20.0.2');
  t.equal(vips.allocate(), '127.10.0.3');
});

t.test('ipam remembers its block and prefix', async (t) => {
  const ipam = new Ipam('127.20.0.0/16');
  t.equal(ipam.cidr, '127.20.0.0/16');
  t.equal(ipam.prefix, 16);
  t.equal(ipam.used, 0);
});

t.test('parseCidr reads base, prefix and size', async (t) => {
  const table: [string, { base: string; prefix: number; size: number }][] = [
    ['127.10.0.0/16', { base: '127.10.0.0', prefix: 16, size: 65536 }],
    ['127.20.0.0/29', { base: '127.20.0.0', prefix: 29, size: 8 }],
    ['10.1.2.3/8', { base: '10.0.0.0', prefix: 8, size: 16777216 }],
    ['192.168.7.200/30', { base: '192.168.7.200', prefix: 30, size: 4 }],
    ['255.255.255.255/24', { base: '255.255.255.0', prefix: 24, size: 256 }],
  ];
  for (const [cidr, expected] of table) {
    const got = parseCidr(cidr);
    t.same({ base: intToIp(got.base), prefix: got.prefix, size: got.size }, expected, cidr);
    t.ok(got.base >= 0, `${cidr}: base is unsigned`);
  }
});

t.test('parseCidr refuses what is not a usable CIDR block', async (t) => {
  const table: [string, RegExp][] = [
    ['127.20.0.0', /is not a CIDR block like 127\.20\.0\.0\/16 \(prefix between \/8 and \/30\)/],
    ['127.20.0.0/', /is not a CIDR block/],
    ['127.20.0.0/7', /is not a CIDR block/],
    ['127.20.0.0/31', /is not a CIDR block/],
    ['127.20.0.0/32', /is not a CIDR block/],
    ['127.20.0.0/16.5', /is not a CIDR block/],
    ['127.20.0.0/abc', /is not a CIDR block/],
    ['/16', /is not a CIDR block/],
    ['', /is not a CIDR block/],
    ['256.0.0.0/16', /'256\.0\.0\.0' is not an IPv4 address/],
    ['1.2.3/16', /'1\.2\.3' is not an IPv4 address/],
    ['1.2.3.4.5/16', /is not an IPv4 address/],
    ['a.b.c.d/16', /is not an IPv4 address/],
    ['-1.0.0.0/16', /is not an IPv4 address/],
  ];
  for (const [cidr, message] of table) {
    t.throws(() => parseCidr(cidr), { message }, JSON.stringify(cidr));
  }
  t.throws(() => new Ipam('127.20.0.0/31'), { message: /is not a CIDR block/ }, 'the constructor refuses too');
});

// A typo in --subnet or --task-subnet must not silently become a different block.
t.test('parseCidr refuses empty, hex and padded octets and trailing junk', async (t) => {
  for (const cidr of ['127.20.0./24', '127..0.1/24', '.127.20.0/24', '0x7f.0.0.0/8', '127.20.0. 1/24', '127.20.0.0/16/3', '127.20.0.0/ 16', '127.20.0.0/1e1']) {
    t.throws(() => parseCidr(cidr), JSON.stringify(cidr));
  }
});

t.test('ipToInt and intToIp round-trip as unsigned 32-bit numbers', async (t) => {
  const table: [string, number][] = [
    ['0.0.0.0', 0],
    ['0.0.0.1', 1],
    ['127.0.0.1', 2130706433],
    ['127.20.0.2', 2132017154],
    ['255.255.255.255', 4294967295],
    ['128.0.0.0', 2147483648],
  ];
  for (const [ip, n] of table) {
    t.equal(ipToInt(ip), n, ip);
    t.equal(intToIp(n), ip, String(n));
  }
});
