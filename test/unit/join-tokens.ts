// JoinTokens: Swarm's SWMTKN format, the root CA's digest part, roleOf's answers, and rotation.
import t from 'tap';
import { JoinTokens, RootCA } from '../../src/swarm/index.js';

/** The join tokens of a new swarm, with its own root CA. */
const newTokens = (): JoinTokens => new JoinTokens(new RootCA().joinTokenDigest);

const FORMAT = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/;

function parts(token: string): { digest: string; secret: string } {
  const match = FORMAT.exec(token);
  if (!match) throw new Error(`not a join token: ${token}`);
  return { digest: match[1]!, secret: match[2]! };
}

t.test('join tokens have the form SWMTKN-1-<50 base36>-<25 base36>', async (t) => {
  for (let i = 0; i < 20; i++) {
    const tokens = newTokens();
    t.match(tokens.token('worker'), FORMAT);
    t.match(tokens.token('manager'), FORMAT);
  }
});

t.test('worker and manager tokens share the digest part and differ in the secret', async (t) => {
  const tokens = newTokens();
  const worker = parts(tokens.token('worker'));
  const manager = parts(tokens.token('manager'));
  t.equal(worker.digest, manager.digest);
  t.not(worker.secret, manager.secret);
});

t.test('a token stays the same until it is rotated', async (t) => {
  const tokens = newTokens();
  t.equal(tokens.token('worker'), tokens.token('worker'));
  t.equal(tokens.token('manager'), tokens.token('manager'));
});

t.test('two clusters get different digests', async (t) => {
  t.not(parts(newTokens().token('worker')).digest, parts(newTokens().token('worker')).digest);
});

t.test('roleOf names the role a token grants', async (t) => {
  const tokens = newTokens();
  t.equal(tokens.roleOf(tokens.token('worker')), 'worker');
  t.equal(tokens.roleOf(tokens.token('manager')), 'manager');
});

t.test('roleOf calls a token of the wrong shape malformed', async (t) => {
  const tokens = newTokens();
  const good = tokens.token('worker');
  const { digest, secret } = parts(good);
  const table: [string, string][] = [
    ['empty', ''],
    ['garbage', 'not-a-token'],
    ['prefix only', 'SWMTKN-1-'],
    ['no secret part', `SWMTKN-1-${digest}`],
    ['other version', `SWMTKN-2-${digest}-${secret}`],
    ['lower-case prefix', good.replace('SWMTKN', 'swmtkn')],
    ['upper-case body', good.toUpperCase()],
    ['digest one short', `SWMTKN-1-${digest.slice(1)}-${secret}`],
    ['digest one long', `SWMTKN-1-${digest}a-${secret}`],
    ['secret one short', `SWMTKN-1-${digest}-${secret.slice(1)}`],
    ['secret one long', `SWMTKN-1-${digest}-${secret}a`],
    ['a character outside base36', `SWMTKN-1-${digest}-${secret.slice(1)}_`],
    ['trailing newline', `${good}\n`],
    ['leading space', ` ${good}`],
  ];
  for (const [name, token] of table) {
    t.equal(tokens.roleOf(token), 'malformed', name);
  }
});

t.test('roleOf calls a well-formed token that is not ours invalid', async (t) => {
  const tokens = newTokens();
  const other = newTokens();
  const { digest, secret } = parts(tokens.token('worker'));
  const table: [string, string][] = [
    ['another cluster\'s worker token', other.token('worker')],
    ['another cluster\'s manager token', other.token('manager')],
    ['our digest, a made-up secret', `SWMTKN-1-${digest}-${'0'.repeat(25)}`],
    ['our secret, another digest', `SWMTKN-1-${'z'.repeat(50)}-${secret}`],
  ];
  for (const [name, token] of table) {
    t.equal(tokens.roleOf(token), 'invalid', name);
  }
});

interface RotateRow {
  rotate: 'worker' | 'manager';
  other: 'worker' | 'manager';
}

const rotateRows: RotateRow[] = [{ rotate: 'worker', other: 'manager' }, { rotate: 'manager', other: 'worker' }];

for (const row of rotateRows) {
  t.test(`rotating the ${row.rotate} token invalidates the old ${row.rotate} token only`, async (t) => {
    const tokens = newTokens();
    const old = tokens.token(row.rotate);
    const kept = tokens.token(row.other);
    tokens.rotate(row.rotate);
    const fresh = tokens.token(row.rotate);
    t.not(fresh, old, 'a new token');
    t.equal(tokens.roleOf(old), 'invalid', 'the old one no longer joins');
    t.equal(tokens.roleOf(fresh), row.rotate, 'the new one does');
    t.equal(tokens.token(row.other), kept, `the ${row.other} token is unchanged`);
    t.equal(tokens.roleOf(kept), row.other, `and still grants ${row.other}`);
    t.equal(parts(fresh).digest, parts(old).digest, 'the digest part stays');
  });
}

t.test('rotating twice invalidates both earlier tokens of that role', async (t) => {
  const tokens = newTokens();
  const first = tokens.token('worker');
  tokens.rotate('worker');
  const second = tokens.token('worker');
  tokens.rotate('worker');
  t.equal(tokens.roleOf(first), 'invalid');
  t.equal(tokens.roleOf(second), 'invalid');
  t.equal(tokens.roleOf(tokens.token('worker')), 'worker');
});

t.test('a worker token never grants manager, even after the manager token rotates', async (t) => {
  const tokens = newTokens();
  const worker = tokens.token('worker');
  tokens.rotate('manager');
  t.equal(tokens.roleOf(worker), 'worker');
});
