// `--store etcd://...` read into etcd's endpoints and the keys' prefix, refused with what to give when it is
// not an etcd address on loopback; `--leader-lease` and `up --etcd` checked against what they go with.
import t from 'tap';
import { parseStoreAddress } from '../../src/engine/storeAddress.js';
import { nodeSettings, NODE_FLAGS } from '../../src/cli/nodeFlags.js';
import { createUpCommand, upOptions } from '../../src/cli/commands/up.js';
import { parseArgs } from '../../src/cli/flags.js';

t.test('an etcd address: one member or several, a port or etcd\'s 2379, a prefix or /routemesh/', async (t) => {
  t.same(parseStoreAddress('etcd://127.1.0.100:2379'), { endpoints: ['127.1.0.100:2379'], prefix: '/routemesh/' });
  t.same(parseStoreAddress('etcd://127.1.0.100'), { endpoints: ['127.1.0.100:2379'], prefix: '/routemesh/' });
  t.same(parseStoreAddress(' etcd://127.1.0.100:2379,127.1.0.101:32379/team-a '), { endpoints: ['127.1.0.100:2379', '127.1.0.101:32379'], prefix: '/team-a/' });
  t.same(parseStoreAddress('etcd://127.1.0.100/a/b/'), { endpoints: ['127.1.0.100:2379'], prefix: '/a/b/' });
});

t.test('what is not an etcd address on loopback is refused, saying what to give', async (t) => {
  const refusals: [string, RegExp][] = [
    ['http://127.1.0.100:2379', /not an etcd:\/\/ address/],
    ['etcd://', /not an etcd:\/\/ address/],
    ['etcd://10.0.0.5:2379', /'10\.0\.0\.5' is not an IPv4 address in 127\.0\.0\.0\/8: routemesh talks only to this machine's loopback/],
    ['etcd://localhost:2379', /'localhost' is not an IPv4 address in 127/],
    ['etcd://127.1.0.100:70000', /'70000' is not a TCP port/],
    ['etcd://127.1.0.100:0', /'0' is not a TCP port/],
    ['etcd://127.1.0.100:x', /'x' is not a TCP port/],
    ['etcd://127.1.0.100:2379:1', /is not HOST or HOST:PORT/],
    ['etcd://127.1.0.100,,127.1.0.101', /'' is not HOST or HOST:PORT/],
    ['etcd://127.1.0.100/a b', /the prefix '\/a b' may hold only/],
  ];
  for (const [text, why] of refusals) {
    t.throws(() => parseStoreAddress(text), { message: why }, text);
    t.throws(() => parseStoreAddress(text), { message: /give etcd's client addresses, like etcd:\/\/127\.1\.0\.100:2379/ });
  }
});

t.test('--leader-lease goes with --store and is whole seconds; up --etcd neither with --store nor on a full subnet', async (t) => {
  const settings = (...argv: string[]) => nodeSettings(parseArgs(argv, NODE_FLAGS, { command: 'routemesh node start' }));
  t.throws(() => settings('--leader-lease', '2s'), { message: /--leader-lease needs --store/ });
  t.throws(() => settings('--store', 'etcd://127.1.0.100', '--leader-lease', '1500ms'), { message: /whole seconds, at least 1s/ });
  t.throws(() => settings('--store', 'etcd://127.1.0.100', '--leader-lease', '0s'), { message: /whole seconds, at least 1s/ });
  t.match(settings('--store', 'etcd://127.1.0.100', '--leader-lease', '5s'), { store: 'etcd://127.1.0.100', leaderLeaseSeconds: 5 });
  t.notOk('leaderLeaseSeconds' in settings('--store', 'etcd://127.1.0.100'), 'the engine\'s default when absent');

  const up = (...argv: string[]) => upOptions(parseArgs(argv, createUpCommand().flags, { command: 'routemesh up', interspersed: false }), () => {});
  t.throws(() => up('--etcd', '--store', 'etcd://127.1.0.100'), { message: /--etcd starts an etcd of its own: leave out --store/ });
  t.throws(() => up('--etcd', '--subnet', '127.1.0.0/30', '--nodes', '2'), { message: /--etcd takes the last address of --subnet 127\.1\.0\.0\/30: room for 1 nodes then, not 2/ });
  t.match(up('--etcd', '--subnet', '127.1.0.0/30', '--nodes', '1'), { nodes: 1 });
});
