// Secrets and configs in the control plane, as tables on a real Manager (no sockets): swarmkit's name
// rule and size limits, labels the only change, references from services checked at create and update,
// and removal refused while a service refers to one.
import t from 'tap';
import type { Test } from 'tap';
import { Manager, SwarmError } from '../../src/swarm/index.js';
import { fakeTimers } from '../support/managerDriver.js';

const SUBNETS = { taskSubnet: '127.200.0.0/16', vipSubnet: '127.201.0.0/16' };
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const rpc = (desc: string): string => `rpc error: code = InvalidArgument desc = ${desc}`;

function newManager(t: Test): Manager {
  const timers = fakeTimers();
  const manager = new Manager({ ...SUBNETS, setTimer: timers.setTimer, now: timers.now });
  t.teardown(() => manager.close());
  return manager;
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as SwarmError).message;
  }
  return 'accepted';
}

t.test('create: names and sizes as swarmkit checks them', async (t) => {
  const manager = newManager(t);
  const cases: [string, unknown, string][] = [
    ['a plain name', { Name: 'db_pass.v1', Data: b64('x') }, 'accepted'],
    ['no name', { Data: b64('x') }, rpc('name must be provided')],
    ['a name ending in a dot', { Name: 'db.', Data: b64('x') }, rpc('invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]')],
    ['65 characters', { Name: 'a'.repeat(65), Data: b64('x') }, rpc('invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]')],
    ['no data', { Name: 'empty' }, rpc('secret data must be larger than 0 and less than 512000 bytes')],
    ['500 KiB', { Name: 'big', Data: Buffer.alloc(512000).toString('base64') }, rpc('secret data must be larger than 0 and less than 512000 bytes')],
    ['just under', { Name: 'big2', Data: Buffer.alloc(511999).toString('base64') }, 'accepted'],
    ['not base64', { Name: 'raw', Data: 'not base64!' }, rpc('secret Data must be base64, as the API carries bytes')],
    ['a driver', { Name: 'vault', Data: b64('x'), Driver: { Name: 'vault' } }, rpc('secret drivers are not supported: routemesh keeps secrets in the swarm itself; leave out --driver')],
    ['a name taken', { Name: 'db_pass.v1', Data: b64('y') }, 'rpc error: code = AlreadyExists desc = secret db_pass.v1 already exists'],
  ];
  for (const [what, input, expected] of cases) t.equal(refusal(() => manager.secrets.create(input)), expected, what);
  t.equal(refusal(() => manager.configs.create({ Name: 'c', Data: Buffer.alloc(600_000).toString('base64') })), 'accepted', 'a config may hold up to 1000 KiB');
});

t.test('update changes labels only; remove is refused while a service refers', async (t) => {
  const manager = newManager(t);
  const secret = manager.secrets.create({ Name: 'pw', Data: b64('s3cret') });
  manager.secrets.update('pw', secret.Version.Index, { Name: 'pw', Labels: { a: 'b' }, Data: secret.Spec.Data });
  const updated = manager.secrets.resolve(secret.ID);
  t.same(updated.Spec.Labels, { a: 'b' });
  t.equal(refusal(() => manager.secrets.update('pw', updated.Version.Index, { Name: 'pw', Data: b64('other') })), rpc('only updates to Labels are allowed'));
  t.equal(refusal(() => manager.secrets.update('pw', 1, { Name: 'pw' })), 'rpc error: code = Unknown desc = update out of sequence');

  const reference = (name: string, id: string, target: string) => ({ SecretID: id, SecretName: name, File: { Name: target, UID: '0', GID: '0', Mode: 0o444 } });
  const spec = (secrets: unknown[]) => ({ Name: 'db', TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Args: ['true'], Secrets: secrets } } });
  await t.rejects(manager.createService(spec([reference('nope', 'x', 'a')])), { message: rpc('secret not found: nope') });
  await t.rejects(manager.createService(spec([reference('pw', secret.ID, 'a'), reference('pw', secret.ID, 'a')])),
    { message: rpc("secret references 'pw' and 'pw' have a conflicting target: 'a'") });
  await t.rejects(manager.createService(spec([{ SecretID: secret.ID, SecretName: 'pw' }])), { message: rpc('malformed secret reference, no target provided') });
  const service = await manager.createService(spec([reference('pw', secret.ID, 'a')]));
  t.equal(refusal(() => manager.secrets.remove('pw')), rpc("secret 'pw' is in use by the following service: db"));
  manager.removeService(service.ID);
  t.equal(refusal(() => manager.secrets.remove('pw')), 'accepted');
  t.equal(refusal(() => manager.secrets.resolve('pw')), 'secret pw not found');
});
