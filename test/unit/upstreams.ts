// Where forwarded names go: parseDnsAddress (the --dns / --dns-upstream forms) and resolvConfUpstreams
// (the host's nameservers, as glibc and Swarm's resolver read them: the first three).
import t from 'tap';
import { parseDnsAddress, resolvConfUpstreams } from '../../src/vip-dns/index.js';
import type { Upstream } from '../../src/vip-dns/index.js';
import { Forwarder } from '../../src/vip-dns/Forwarder.js';

interface ParseRow {
  name: string;
  text: string;
  defaultPort?: number;
  expect: Upstream;
}

const parseRows: ParseRow[] = [
  { name: 'an IPv4 address gets port 53', text: '10.0.0.2', expect: { address: '10.0.0.2', port: 53 } },
  { name: 'an IPv4 address with a port', text: '10.0.0.2:5353', expect: { address: '10.0.0.2', port: 5353 } },
  { name: 'the lowest port', text: '127.0.0.53:1', expect: { address: '127.0.0.53', port: 1 } },
  { name: 'the highest port', text: '127.0.0.53:65535', expect: { address: '127.0.0.53', port: 65535 } },
  { name: 'surrounding blanks are ignored', text: '  10.0.0.2:53 ', expect: { address: '10.0.0.2', port: 53 } },
  { name: 'a bare IPv6 address gets port 53', text: '::1', expect: { address: '::1', port: 53 } },
  { name: 'a longer bare IPv6 address', text: '2001:db8::53', expect: { address: '2001:db8::53', port: 53 } },
  { name: 'a bracketed IPv6 address with a port', text: '[::1]:5353', expect: { address: '::1', port: 5353 } },
  { name: 'a bracketed IPv6 address without a port', text: '[2001:db8::1]', expect: { address: '2001:db8::1', port: 53 } },
  { name: 'defaultPort applies to an IPv4 address without a port', text: '127.0.0.11', defaultPort: 5300, expect: { address: '127.0.0.11', port: 5300 } },
  { name: 'defaultPort applies to a bare IPv6 address', text: '::1', defaultPort: 5300, expect: { address: '::1', port: 5300 } },
  { name: 'defaultPort applies to a bracketed IPv6 address without a port', text: '[::1]', defaultPort: 5300, expect: { address: '::1', port: 5300 } },
  { name: 'an explicit port wins over defaultPort', text: '127.0.0.11:53', defaultPort: 5300, expect: { address: '127.0.0.11', port: 53 } },
];

for (const row of parseRows) {
  t.test(`parseDnsAddress: ${row.name}`, async (t) => {
    const parsed = row.defaultPort === undefined ? parseDnsAddress(row.text) : parseDnsAddress(row.text, row.defaultPort);
    t.strictSame(parsed, row.expect);
  });
}

const refused: [string, string][] = [
  ['an empty text', ''],
  ['blanks only', '   '],
  ['a host name', 'host'],
  ['a host name with a port', 'localhost:53'],
  ['port 0', '1.2.3.4:0'],
  ['a port over 65535', '1.2.3.4:70000'],
  ['an empty port', '1.2.3.4:'],
  ['a negative port', '1.2.3.4:-1'],
  ['two ports', '1.2.3.4:53:1'],
  ['a bracketed IPv6 address with a non-numeric port', '[::1]:x'],
  ['a bracketed IPv6 address with an empty port', '[::1]:'],
  ['an unclosed bracket', '[::1:53'],
  ['an octet over 255', '999.1.1.1'],
  ['three octets', '1.2.3:53'],
];

for (const [name, text] of refused) {
  t.test(`parseDnsAddress refuses ${name} (${JSON.stringify(text)}), naming the expected form`, async (t) => {
    t.throws(() => parseDnsAddress(text), {
      message: `'${text}' is not a DNS address: use ADDR or ADDR:PORT, like 127.0.0.53 or 127.0.0.53:53 ([::1]:53 for IPv6)`,
    });
  });
}

interface ResolvRow {
  name: string;
  text: string;
  expect: string[];
}

const resolvRows: ResolvRow[] = [
  { name: 'nameserver lines in order, port 53', text: 'nameserver 10.0.0.2\nnameserver 10.0.0.3\n', expect: ['10.0.0.2', '10.0.0.3'] },
  {
    name: 'comment lines are skipped, # and ;',
    text: '# nameserver 1.1.1.1\n; nameserver 8.8.8.8\nnameserver 10.0.0.2\n#nameserver 9.9.9.9\n',
    expect: ['10.0.0.2'],
  },
  { name: 'a comment after the address is ignored', text: 'nameserver 10.0.0.2 # the office resolver\n', expect: ['10.0.0.2'] },
  {
    name: 'options, search and domain lines are skipped',
    text: 'domain example.com\nsearch example.com corp.example.com\noptions ndots:2 timeout:1\nnameserver 127.0.0.53\nsortlist 10.0.0.0/255.0.0.0\n',
    expect: ['127.0.0.53'],
  },
  { name: 'IPv6 nameservers are kept', text: 'nameserver 2001:db8::53\nnameserver ::1\n', expect: ['2001:db8::53', '::1'] },
  { name: 'an IPv6 zone id is kept as Node needs it', text: 'nameserver fe80::1%eth0\n', expect: ['fe80::1%eth0'] },
  { name: 'an IPv4 address with a zone id is ignored, as glibc does, and takes no slot', text: 'nameserver 1.2.3.4%eth0\nnameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n', expect: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] },
  {
    name: 'more than three nameservers: only the first three',
    text: 'nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\nnameserver 10.0.0.5\n',
    expect: ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
  },
  {
    name: 'junk lines are ignored and do not count towards the three',
    text: [
      'nameserver', 'nameserver not-an-address', 'nameservers 10.0.0.9', 'nameserver 999.1.1.1', 'garbage here',
      'nameserver 10.0.0.1', 'NAMESERVER 10.0.0.8', 'nameserver 10.0.0.2', 'nameserver 10.0.0.3', 'nameserver 10.0.0.4',
    ].join('\n'),
    expect: ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
  },
  { name: 'leading blanks and tabs are allowed', text: '   nameserver\t10.0.0.2\n\tnameserver   10.0.0.3\n', expect: ['10.0.0.2', '10.0.0.3'] },
  { name: 'CRLF line ends are read', text: 'nameserver 10.0.0.2\r\nnameserver 10.0.0.3\r\n', expect: ['10.0.0.2', '10.0.0.3'] },
  { name: 'a last line without a newline is read', text: 'search example.com\nnameserver 10.0.0.2', expect: ['10.0.0.2'] },
  { name: 'an empty file has no nameservers', text: '', expect: [] },
  { name: 'a file of comments has no nameservers', text: '# generated by NetworkManager\n\n', expect: [] },
];

for (const row of resolvRows) {
  t.test(`resolvConfUpstreams: ${row.name}`, async (t) => {
    t.strictSame(resolvConfUpstreams(row.text), row.expect.map((address) => ({ address, port: 53 })));
  });
}

t.test('the forwarder sends to nothing beyond loopback: an upstream elsewhere is left out, whoever names it', async (t) => {
  const forwarder = new Forwarder({ upstreams: [{ address: '10.255.255.53', port: 53 }, { address: '127.0.0.53', port: 53 }, { address: '::ffff:127.0.0.1', port: 53 }, { address: '2001:db8::1', port: 53 }] });
  t.teardown(() => forwarder.close());
  t.same(forwarder.upstreams.map((u) => u.address), ['127.0.0.53', '::ffff:127.0.0.1']);
});
