// Every field of a service spec must hold a value of the type Docker's Go structs give it: one that does not
// (a wrong JSON type, or a number out of its Go type's range), once stored, would make every docker CLI
// that lists services fail. A table of each kind of field, then the engine API refusing the ones seen.
// Mounts are checked as Swarm checks them (the type and duplicate targets at create, the paths when a
// node starts the task), though routemesh does not apply them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { normalizeServiceSpec } from '../src/swarm/index.js';
import { checkMounts } from '../src/runtime/mounts.js';
import { api, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';

/** A valid spec with `task` merged into its TaskTemplate and `container` into its ContainerSpec. */
function spec(extra: { task?: Record<string, unknown>; container?: Record<string, unknown>; top?: Record<string, unknown> }): Record<string, unknown> {
  return {
    Name: 'web', Labels: {},
    TaskTemplate: { ContainerSpec: { Image: 'nginx', ...extra.container }, ...extra.task },
    Mode: { Replicated: { Replicas: 1 } },
    ...extra.top,
  };
}

// [what, body, the field path the error must name, Go's type name]
const refused: [string, Record<string, unknown>, string, string][] = [
  ['a duration of 1e308', spec({ container: { StopGracePeriod: 1e308 } }), 'TaskTemplate.ContainerSpec.StopGracePeriod', 'time.Duration'],
  ['a duration of 2^63', spec({ container: { StopGracePeriod: 9223372036854775808 } }), 'TaskTemplate.ContainerSpec.StopGracePeriod', 'time.Duration'],
  ['a fractional duration', spec({ task: { RestartPolicy: { Delay: 1.5 } } }), 'TaskTemplate.RestartPolicy.Delay', 'time.Duration'],
  ['a duration as a string', spec({ top: { UpdateConfig: { Monitor: '5s' } } }), 'UpdateConfig.Monitor', 'time.Duration'],
  ['a health interval as a bool', spec({ container: { Healthcheck: { Interval: true } } }), 'TaskTemplate.ContainerSpec.Healthcheck.Interval', 'time.Duration'],
  ['Resources as a string', spec({ task: { Resources: 'x' } }), 'TaskTemplate.Resources', 'swarm.ResourceRequirements'],
  ['Networks as a string', spec({ task: { Networks: 'x' } }), 'TaskTemplate.Networks', '[]swarm.NetworkAttachmentConfig'],
  ['a network alias that is not a string', spec({ task: { Networks: [{ Target: 'ingress', Aliases: [1] }] } }), 'TaskTemplate.Networks[0].Aliases[0]', 'string'],
  ['LogDriver as a number', spec({ task: { LogDriver: 1 } }), 'TaskTemplate.LogDriver', 'swarm.Driver'],
  ['log driver options that are not strings', spec({ task: { LogDriver: { Name: 'json-file', Options: { 'max-size': 10 } } } }), 'TaskTemplate.LogDriver.Options["max-size"]', 'string'],
  ['MaxReplicas of 1e308', spec({ task: { Placement: { MaxReplicas: 1e308 } } }), 'TaskTemplate.Placement.MaxReplicas', 'uint64'],
  ['a negative uint64', spec({ task: { ForceUpdate: -1 } }), 'TaskTemplate.ForceUpdate', 'uint64'],
  ['a uint64 of 2^64', spec({ task: { RestartPolicy: { MaxAttempts: 2 ** 64 } } }), 'TaskTemplate.RestartPolicy.MaxAttempts', 'uint64'],
  ['a uint32 of 2^32', spec({ top: { EndpointSpec: { Ports: [{ TargetPort: 2 ** 32 }] } } }), 'EndpointSpec.Ports[0].TargetPort', 'uint32'],
  ['an int64 of 1e19', spec({ task: { Resources: { Limits: { Pids: 1e19 } } } }), 'TaskTemplate.Resources.Limits.Pids', 'int64'],
  ['an int64 as a string', spec({ container: { OomScoreAdj: '1' } }), 'TaskTemplate.ContainerSpec.OomScoreAdj', 'int64'],
  ['a generic resource value as a string', spec({ task: { Resources: { Reservations: { GenericResources: [{ DiscreteResourceSpec: { Kind: 'gpu', Value: '2' } }] } } } }), 'TaskTemplate.Resources.Reservations.GenericResources[0].DiscreteResourceSpec.Value', 'int64'],
  ['an int of 1e19', spec({ container: { Healthcheck: { Retries: 1e19 } } }), 'TaskTemplate.ContainerSpec.Healthcheck.Retries', 'int'],
  ['a float32 of 1e39', spec({ top: { UpdateConfig: { MaxFailureRatio: 1e39 } } }), 'UpdateConfig.MaxFailureRatio', 'float32'],
  ['a bool as a string', spec({ container: { Init: 'yes' } }), 'TaskTemplate.ContainerSpec.Init', 'bool'],
  ['a bool as a number', spec({ container: { TTY: 1 } }), 'TaskTemplate.ContainerSpec.TTY', 'bool'],
  ['a string as a number', spec({ container: { Hostname: 5 } }), 'TaskTemplate.ContainerSpec.Hostname', 'string'],
  ['a string as an object', spec({ task: { Runtime: {} } }), 'TaskTemplate.Runtime', 'string'],
  ['bytes that are not base64', spec({ container: { Privileges: { Seccomp: { Profile: '{"defaultAction":1}' } } } }), 'TaskTemplate.ContainerSpec.Privileges.Seccomp.Profile', '[]uint8'],
  ['a nameserver that is not an address', spec({ container: { DNSConfig: { Nameservers: ['resolver'] } } }), 'TaskTemplate.ContainerSpec.DNSConfig.Nameservers[0]', 'netip.Addr'],
  ['Mounts as an object', spec({ container: { Mounts: { Type: 'bind' } } }), 'TaskTemplate.ContainerSpec.Mounts', '[]mount.Mount'],
  ['a mount read-only flag as a string', spec({ container: { Mounts: [{ Type: 'volume', Target: '/data', ReadOnly: 'true' }] } }), 'TaskTemplate.ContainerSpec.Mounts[0].ReadOnly', 'bool'],
  ['tmpfs options that are not lists of strings', spec({ container: { Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { Options: [['exec', 1]] } }] } }), 'TaskTemplate.ContainerSpec.Mounts[0].TmpfsOptions.Options[0][1]', 'string'],
  ['Secrets as a string', spec({ container: { Secrets: 'x' } }), 'TaskTemplate.ContainerSpec.Secrets', '[]swarm.SecretReference'],
  ['a secret file mode as a string', spec({ container: { Secrets: [{ SecretName: 's', File: { Name: 's', Mode: '0444' } }] } }), 'TaskTemplate.ContainerSpec.Secrets[0].File.Mode', 'uint32'],
  ['Ulimits with a string limit', spec({ container: { Ulimits: [{ Name: 'nofile', Soft: '1024', Hard: 2048 }] } }), 'TaskTemplate.ContainerSpec.Ulimits[0].Soft', 'int64'],
  ['Sysctls with a number', spec({ container: { Sysctls: { 'net.core.somaxconn': 1024 } } }), 'TaskTemplate.ContainerSpec.Sysctls["net.core.somaxconn"]', 'string'],
  ['a Healthcheck as a list', spec({ container: { Healthcheck: [] } }), 'TaskTemplate.ContainerSpec.Healthcheck', 'container.HealthConfig'],
  ['placement preferences as a string', spec({ task: { Placement: { Preferences: 'spread' } } }), 'TaskTemplate.Placement.Preferences', '[]swarm.PlacementPreference'],
  ['a platform OS as a number', spec({ task: { Placement: { Platforms: [{ OS: 1, Architecture: 'amd64' }] } } }), 'TaskTemplate.Placement.Platforms[0].OS', 'string'],
  ['a plugin spec field as a number', spec({ task: { PluginSpec: { name: 1 } } }), 'TaskTemplate.PluginSpec.name', 'string'],
  ['a replicated job count as a string', spec({ top: { Mode: { ReplicatedJob: { TotalCompletions: 'all' } } } }), 'Mode.ReplicatedJob.TotalCompletions', 'uint64'],
  ['a port name as a number', spec({ top: { EndpointSpec: { Ports: [{ Name: 1, TargetPort: 80 }] } } }), 'EndpointSpec.Ports[0].Name', 'string'],
  // Go matches JSON keys to fields ignoring case, so a client would decode this one as StopGracePeriod.
  ['a field spelled in lower case', spec({ container: { stopgraceperiod: 'x' } }), 'TaskTemplate.ContainerSpec.StopGracePeriod', 'time.Duration'],
  // Go folds the long s (U+017F) to S and the Kelvin sign (U+212A) to K, as Unicode's simple case mappings do.
  ['a field spelled with a long s', spec({ container: { '\u017ftopGracePeriod': 'x' } }), 'TaskTemplate.ContainerSpec.StopGracePeriod', 'time.Duration'],
  ['a field spelled with a dotless i', spec({ container: { '\u0131nit': 'yes' } }), 'TaskTemplate.ContainerSpec.Init', 'bool'],
];

for (const [what, body, field, goType] of refused) {
  t.test(`a spec with ${what} is refused, naming ${field}`, async (t) => {
    t.throws(() => normalizeServiceSpec(body), {
      code: 'invalid_argument',
      message: `into Go struct field ServiceSpec.${field} of type ${goType}: ${field} must be`,
    });
  });
}

t.test('Go\'s largest int64, which JSON.parse has already made 2^63, is refused saying so', async (t) => {
  const pids = JSON.parse('{"Name":"big","TaskTemplate":{"ContainerSpec":{"Image":"nginx"},"Resources":{"Limits":{"Pids":9223372036854775807}}}}');
  t.throws(() => normalizeServiceSpec(pids), { message: /Pids must be a whole number below 2\^63 \(int64; numbers are read as doubles here, so 9223372036854775807 itself reads as 2\^63 and is refused\)/ });
  const body = JSON.parse('{"Name":"big","TaskTemplate":{"ContainerSpec":{"Image":"nginx","StopGracePeriod":9223372036854775807}}}');
  t.throws(() => normalizeServiceSpec(body), { message: /StopGracePeriod must be a whole number of nanoseconds below 2\^63 .* 9223372036854775807 itself reads as 2\^63 and is refused/ });
});

t.test('what Go decodes is accepted: nulls, unknown fields, the largest values of each type', async (t) => {
  const accepted: [string, Record<string, unknown>][] = [
    ['null in every kind of field', spec({ container: { StopGracePeriod: null, Labels: null, Mounts: null, Init: null }, task: { Resources: null, Networks: null } })],
    ['unknown fields (Go ignores them)', spec({ container: { Future: 'x', Healthcheck: { Later: [1] } }, task: { Other: 1 } })],
    ['the largest duration a double holds below 2^63', spec({ container: { StopGracePeriod: 9223372036854774784 } })],
    ['the largest uint64 a double holds', spec({ task: { Placement: { MaxReplicas: 18446744073709549568 } } })],
    ['IPv4 and IPv6 nameservers', spec({ container: { DNSConfig: { Nameservers: ['127.0.0.11', '::1'] } } })],
    ['a base64 seccomp profile', spec({ container: { Privileges: { Seccomp: { Mode: 'custom', Profile: Buffer.from('{}').toString('base64') } } } })],
    ['the docker CLI\'s usual body', spec({ container: { Init: false, DNSConfig: {}, Isolation: 'default' }, task: { Resources: { Limits: {}, Reservations: {} }, Placement: { Platforms: [{ Architecture: 'amd64', OS: 'linux' }] }, ForceUpdate: 0, Runtime: 'container' } })],
  ];
  for (const [what, body] of accepted) t.doesNotThrow(() => normalizeServiceSpec(body), what);
});

// Stored with both spellings, routemesh would run one and a docker CLI (whose decoder takes the last) show the other.
t.test('keys Go matches ignoring case are stored once, under the field\'s name, the last spelling winning as in Go', async (t) => {
  const body = JSON.parse('{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"nginx","StopGracePeriod":1000000000,"stopgraceperiod":9e18}},' +
    '"Mode":{"Replicated":{"Replicas":1}},"mode":{"replicated":{"replicas":100000000}},"labels":{"a":"1"}}');
  const stored = normalizeServiceSpec(body);
  t.same(stored.Mode, { Replicated: { Replicas: 100000000 } }, 'the replica count a docker CLI would show');
  t.equal(stored.TaskTemplate.ContainerSpec.StopGracePeriod, 9e18);
  t.same(stored.Labels, { a: '1' });
  t.same(Object.keys(stored).sort(), ['EndpointSpec', 'Labels', 'Mode', 'Name', 'TaskTemplate'], 'no second spelling of a field');
  t.same(Object.keys(stored.TaskTemplate.ContainerSpec).sort(), ['Image', 'StopGracePeriod']);

  // Two keys of one object field: the later decodes into what the earlier left, as Go's decoder does.
  const merged = normalizeServiceSpec(spec({ container: { Healthcheck: { Test: ['CMD', 'true'], Retries: 2 }, HEALTHCHECK: { retries: 5 } } }));
  t.same(merged.TaskTemplate.ContainerSpec.Healthcheck, { Test: ['CMD', 'true'], Retries: 5 });
  t.same(normalizeServiceSpec(spec({ top: { labels: { a: '1' }, Labels: { b: '2' } } })).Labels, { a: '1', b: '2' }, 'a map keeps the earlier entries');

  // Unknown keys are kept as given, but of two spelled alike only the last.
  const unknown = normalizeServiceSpec(spec({ container: { Future: 1, future: 2, Later: 3 } })).TaskTemplate.ContainerSpec;
  t.same(Object.keys(unknown).sort(), ['Image', 'Later', 'future']);
  t.equal(unknown['future'], 2);
  t.same(Object.keys(normalizeServiceSpec(spec({ container: { '\u212Aind': 1 } })).TaskTemplate.ContainerSpec).sort(), ['Image', '\u212Aind']);
});

t.test('the engine API refuses each malformed spec with 400 naming the field, and services still list', async (t) => {
  const block = testBlock(44);
  const cluster = await testCluster(t, block, { nodes: 1, metricsPort: undefined });
  const base = cluster.engines[0]!.apiUrl;
  const seen: [Record<string, unknown>, string][] = [
    [{ TaskTemplate: { ContainerSpec: { Image: 'nginx', StopGracePeriod: 1e308 } } }, 'TaskTemplate.ContainerSpec.StopGracePeriod'],
    [{ TaskTemplate: { ContainerSpec: { Image: 'nginx', StopGracePeriod: 9223372036854775808 } } }, 'TaskTemplate.ContainerSpec.StopGracePeriod'],
    [{ TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Resources: 'x' } }, 'TaskTemplate.Resources'],
    [{ TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: 'x' } }, 'TaskTemplate.Networks'],
    [{ TaskTemplate: { ContainerSpec: { Image: 'nginx' }, LogDriver: 1 } }, 'TaskTemplate.LogDriver'],
    [{ TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { MaxReplicas: 1e308 } } }, 'TaskTemplate.Placement.MaxReplicas'],
  ];
  for (const [extra, field] of seen) {
    const created = await api(base, 'POST', '/services/create', serviceSpec('bad', 'nginx', extra));
    t.equal(created.status, 400, `create: ${field}`);
    t.match(created.body.message, `Go struct field ServiceSpec.${field} of type`, `create names ${field}`);
  }
  const listed = await api<unknown[]>(base, 'GET', '/services');
  t.equal(listed.status, 200, 'services still list');
  t.same(listed.body, [], 'and none of the malformed ones was stored');

  const good = await api(base, 'POST', '/services/create', serviceSpec('good', 'nginx', { Mode: { Replicated: { Replicas: 0 } } }));
  t.equal(good.status, 201);
  const before = await api(base, 'GET', '/services/good');
  for (const [extra, field] of seen) {
    const updated = await api(base, 'POST', `/services/good/update?version=${before.body.Version.Index}`, serviceSpec('good', 'nginx', extra));
    t.equal(updated.status, 400, `update: ${field}`);
    t.match(updated.body.message, `ServiceSpec.${field}`, `update names ${field}`);
  }
  const after = await api(base, 'GET', '/services/good');
  t.same(after.body.Spec, before.body.Spec, 'the refused updates left the stored spec as it was');
  t.equal((await api(base, 'GET', '/services')).status, 200);
});

t.test('mounts refused at create: an unknown type, a duplicate target (as Swarm), and npipe and cluster, which no Linux node runs', async (t) => {
  const mounts = (list: unknown[]) => spec({ container: { Mounts: list } });
  t.throws(() => normalizeServiceSpec(mounts([{ Type: 'nfs', Target: '/data' }])), { code: 'invalid_argument', message: /^invalid MountType: "nfs": a mount's Type is bind, volume or tmpfs$/ });
  t.throws(() => normalizeServiceSpec(mounts([null])), { message: /^invalid MountType: "":/ });
  t.throws(() => normalizeServiceSpec(mounts([{ Type: 'volume', Target: '/d' }, { Type: 'tmpfs', Target: '/d' }])),
    { message: 'rpc error: code = InvalidArgument desc = invalid duplicate mount point: /d' });
  t.doesNotThrow(() => normalizeServiceSpec(mounts([{ Type: 'BIND', Source: '/missing', Target: '/a' }, { Type: 'volume', Target: '/b' }])),
    'a missing bind source is the node\'s to find, when it starts the task');
  // Swarm takes these, but no Linux node ever runs them: refused at create rather than rejected on every node.
  t.throws(() => normalizeServiceSpec(mounts([{ Type: 'npipe', Source: '\\\\.\\pipe\\docker_engine', Target: '\\\\.\\pipe\\docker_engine' }])), {
    code: 'invalid_argument',
    message: 'rpc error: code = InvalidArgument desc = mount type npipe is not supported: it mounts a Windows named pipe, which no Linux node mounts (Docker refuses the task: mount type unknown); use bind, volume or tmpfs',
  });
  t.throws(() => normalizeServiceSpec(mounts([{ Type: 'Cluster', Source: 'shared', Target: '/srv' }])),
    { code: 'invalid_argument', message: /^rpc error: code = InvalidArgument desc = mount type cluster is not supported: it mounts a cluster \(CSI\) volume, which routemesh has none of .*; use bind, volume or tmpfs$/ });
  const node = [{ Type: 'bind', Source: '/', Target: '/a' }, { Type: 'Volume', Source: 'data', Target: '/b' }, { Type: 'TMPFS', Target: '/c' }];
  const stored = normalizeServiceSpec(mounts(node)).TaskTemplate.ContainerSpec.Mounts!;
  t.doesNotThrow(() => checkMounts(stored), 'every type create takes, the node takes');
});

t.test('checkMounts: what the node refuses, in Docker\'s words', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'routemesh-mounts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const refused: [unknown, string][] = [
    [{ Type: 'bind', Source: path.join(dir, 'missing'), Target: '/x' }, `invalid mount config for type "bind": bind source path does not exist: ${path.join(dir, 'missing')}`],
    [{ Type: 'bind', Source: 'relative', Target: '/x' }, `invalid mount config for type "bind": invalid mount path: 'relative' mount path must be absolute`],
    [{ Type: 'bind', Target: '/x' }, 'invalid mount config for type "bind": field Source must not be empty'],
    [{ Type: 'bind', Source: dir, Target: 'x' }, `invalid mount config for type "bind": invalid mount path: 'x' mount path must be absolute`],
    [{ Type: 'volume', Source: 'data' }, 'invalid mount config for type "volume": field Target must not be empty'],
    [{ Type: 'volume', Target: '/d', BindOptions: {} }, 'invalid mount config for type "volume": field BindOptions must not be specified'],
    [{ Type: 'tmpfs', Source: dir, Target: '/t' }, 'invalid mount config for type "tmpfs": field Source must not be specified'],
    [{ Type: 'npipe', Source: 'p', Target: '/p' }, 'invalid mount config for type "npipe": mount type unknown'],
  ];
  for (const [mount, message] of refused) t.throws(() => checkMounts([mount as never]), { code: 'INVALID_MOUNT', message }, message);
  t.doesNotThrow(() => checkMounts([
    { Type: 'bind', Source: dir, Target: '/x' },
    { Type: 'bind', Source: path.join(dir, 'made'), Target: '/y', BindOptions: { CreateMountpoint: true } },
    { Type: 'volume', Source: 'data', Target: '/d' }, { Type: 'tmpfs', Target: '/t' },
  ]));
});

t.test('a bind mount whose source is missing rejects the task as Swarm does; an existing one runs', async (t) => {
  const block = testBlock(44);
  const cluster = await testCluster(t, block, { nodes: 1, metricsPort: undefined });
  const base = cluster.engines[0]!.apiUrl;
  const dir = mkdtempSync(path.join(tmpdir(), 'routemesh-mounts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = path.join(dir, 'missing');
  const bind = (source: string) => serviceSpec(path.basename(source), 'nginx', {
    TaskTemplate: { ContainerSpec: { Image: 'nginx', Mounts: [{ Type: 'bind', Source: source, Target: '/usr/share/nginx/html' }] } },
  });
  t.equal((await api(base, 'POST', '/services/create', bind(missing))).status, 201, 'accepted at create, as by Swarm');
  const filter = encodeURIComponent(JSON.stringify({ service: { missing: true } }));
  const rejected = await waitFor('a rejected task', async () => (await api<any[]>(base, `GET`, `/tasks?filters=${filter}`)).body.find((task) => task.Status.State === 'rejected'));
  t.equal(rejected.Status.Err, `invalid mount config for type "bind": bind source path does not exist: ${missing}`);
  t.equal((await api(base, 'POST', '/services/create', bind(dir))).status, 201);
  await waitForRunning(base, path.basename(dir), 1);
});
