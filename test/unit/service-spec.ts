// normalizeServiceSpec and withDefaults: what a service create/update body becomes, and what is refused.
import t from 'tap';
import { SwarmError, normalizeNodeSpec, normalizeServiceSpec, withDefaults } from '../../src/swarm/index.js';
import type { ServiceSpec } from '../../src/swarm/index.js';

const SECOND = 1_000_000_000;

/** A valid body as the docker CLI sends it, with `extra` merged at the top level. */
function body(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Name: 'web',
    Labels: {},
    TaskTemplate: { ContainerSpec: { Image: 'nginx:latest', Init: false, DNSConfig: {} }, ForceUpdate: 0 },
    Mode: { Replicated: { Replicas: 3 } },
    ...extra,
  };
}

function ports(list: unknown[], mode?: string): Record<string, unknown> {
  return body({ EndpointSpec: { ...(mode ? { Mode: mode } : {}), Ports: list } });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

t.test('normalizeServiceSpec keeps a valid body and fills what the store needs', async (t) => {
  const spec = normalizeServiceSpec(body());
  t.equal(spec.Name, 'web');
  t.same(spec.Labels, {});
  t.same(spec.Mode, { Replicated: { Replicas: 3 } });
  t.same(spec.EndpointSpec, { Mode: 'vip' });
  t.equal(spec.TaskTemplate.ContainerSpec.Image, 'nginx:latest');
  t.same(spec.TaskTemplate.ContainerSpec.DNSConfig, {}, 'unknown ContainerSpec fields pass through');
});

interface ModeRow {
  name: string;
  input: Record<string, unknown>;
  mode: ServiceSpec['Mode'];
}

const modeRows: ModeRow[] = [
  { name: 'replicas default to 1 when the CLI sends "Replicated":{}', input: body({ Mode: { Replicated: {} } }), mode: { Replicated: { Replicas: 1 } } },
  { name: 'a body without Mode is replicated with 1 replica', input: body({ Mode: undefined }), mode: { Replicated: { Replicas: 1 } } },
  { name: 'zero replicas is allowed', input: body({ Mode: { Replicated: { Replicas: 0 } } }), mode: { Replicated: { Replicas: 0 } } },
  { name: 'global mode stays global', input: body({ Mode: { Global: {} } }), mode: { Global: {} } },
];

for (const row of modeRows) {
  t.test(`normalizeServiceSpec: ${row.name}`, async (t) => {
    t.same(normalizeServiceSpec(row.input).Mode, row.mode);
  });
}

t.test('normalizeServiceSpec fills a port\'s protocol (tcp) and publish mode (ingress)', async (t) => {
  const spec = normalizeServiceSpec(ports([{ TargetPort: 80, PublishedPort: 8080 }]));
  t.same(spec.EndpointSpec, { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishMode: 'ingress', PublishedPort: 8080 }] });
});

t.test('normalizeServiceSpec leaves PublishedPort out when it is 0 or missing (a dynamic port comes later)', async (t) => {
  const spec = normalizeServiceSpec(ports([{ TargetPort: 80, PublishedPort: 0 }, { TargetPort: 81 }]));
  t.same(spec.EndpointSpec?.Ports?.map((p) => 'PublishedPort' in p), [false, false]);
});

// The mesh forwards tcp and udp, so sctp is refused instead of listed and never served.
t.test('normalizeServiceSpec takes udp ports and refuses sctp ones, which the mesh does not serve', async (t) => {
  const spec = normalizeServiceSpec(ports([{ Protocol: 'udp', TargetPort: 53, PublishedPort: 5353 }, { TargetPort: 53, PublishedPort: 5353 }]));
  t.same(spec.EndpointSpec?.Ports?.map((p) => `${p.PublishedPort}/${p.Protocol}`), ['5353/udp', '5353/tcp'], 'one number in both protocols is two ports');
  t.throws(() => normalizeServiceSpec(ports([{ Protocol: 'sctp', TargetPort: 53, PublishedPort: 53 }])),
    { code: 'invalid_argument', message: /sctp ports are not supported: routemesh's mesh forwards tcp and udp ports/ });
});

t.test('normalizeServiceSpec takes host publish mode (also with dnsrr), with its published port', async (t) => {
  const spec = normalizeServiceSpec(ports([{ TargetPort: 80, PublishedPort: 8081, PublishMode: 'host' }], 'dnsrr'));
  t.match(spec.EndpointSpec?.Ports, [{ TargetPort: 80, PublishedPort: 8081, PublishMode: 'host', Protocol: 'tcp' }]);
  t.throws(() => normalizeServiceSpec(ports([{ TargetPort: 80, PublishMode: 'host' }])),
    { code: 'invalid_argument', message: /a port published in host mode needs its published port \(mode=host,published=8081,target=80\)/ });
});

t.test('normalizeServiceSpec accepts several ports without a published port on one target', async (t) => {
  const spec = normalizeServiceSpec(ports([{ TargetPort: 80 }, { TargetPort: 80 }]));
  t.equal(spec.EndpointSpec?.Ports?.length, 2);
});

t.test('normalizeServiceSpec accepts names at the DNS label limits', async (t) => {
  for (const name of ['a', 'Web-1', '1web', 'a'.repeat(63), 'my-long-service-name']) {
    t.equal(normalizeServiceSpec(body({ Name: name })).Name, name, name);
  }
});

t.test('normalizeServiceSpec drops a null UpdateConfig and keeps a given one', async (t) => {
  t.notOk('UpdateConfig' in normalizeServiceSpec(body({ UpdateConfig: null })));
  const update = { Parallelism: 2, Delay: 10 * SECOND, FailureAction: 'rollback', Order: 'start-first' };
  t.same(normalizeServiceSpec(body({ UpdateConfig: update })).UpdateConfig, update);
});

t.test('normalizeServiceSpec does not mutate its input', async (t) => {
  const input = deepFreeze(body({
    Labels: undefined,
    Mode: { Replicated: {} },
    EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
    UpdateConfig: null,
    TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { Constraints: ['node.role == worker'] } },
  }));
  const before = JSON.stringify(input);
  const spec = normalizeServiceSpec(input); // a frozen input would throw on any write
  t.equal(JSON.stringify(input), before);
  spec.TaskTemplate.ContainerSpec.Image = 'changed';
  t.equal((input.TaskTemplate as { ContainerSpec: { Image: string } }).ContainerSpec.Image, 'nginx', 'the result shares no objects with the input');
});

interface RefusalRow {
  name: string;
  input: unknown;
  /** A value Docker's Go types cannot hold: refused as the daemon refuses JSON it cannot decode. */
  json?: true;
  message: RegExp;
}

const DNS = /name must be valid as a DNS name component/;
const refusals: RefusalRow[] = [
  { name: 'a null body', input: null, message: /the service spec must be a JSON object/ },
  { name: 'an array body', input: [body()], message: /the service spec must be a JSON object/ },
  { name: 'a string body', input: 'web', message: /the service spec must be a JSON object/ },
  { name: 'a number body', input: 42, message: /the service spec must be a JSON object/ },
  { name: 'a missing name', input: body({ Name: undefined }), message: DNS },
  { name: 'an empty name', input: body({ Name: '' }), message: /DNS name component: give the service a name with --name/ },
  { name: 'a name that is not a string', input: body({ Name: 5 }), json: true, message: /number 5 into Go struct field ServiceSpec\.Name of type string/ },
  { name: 'a name with a dot', input: body({ Name: 'web.site' }), message: /DNS name component: 'web\.site' may use only letters, digits, '-' and '_'$/ },
  { name: 'a name with a space', input: body({ Name: 'my web' }), message: /DNS name component: 'my web' may use only letters, digits, '-' and '_'$/ },
  // Each of these uses only allowed characters: the message must name the rule they break.
  { name: 'a name starting with -', input: body({ Name: '-web' }), message: /DNS name component: '-web' must start and end with a letter or digit$/ },
  { name: 'a name ending with -', input: body({ Name: 'web-' }), message: /DNS name component: 'web-' must start and end with a letter or digit$/ },
  { name: 'a name starting with _', input: body({ Name: '_web' }), message: /DNS name component: '_web' must start and end with a letter or digit$/ },
  { name: 'a name over 63 characters', input: body({ Name: 'a'.repeat(64) }), message: /DNS name component: 'a{64}' is 64 characters long: use up to 63 characters$/ },
  { name: 'negative replicas', input: body({ Mode: { Replicated: { Replicas: -1 } } }), json: true, message: /number -1 into Go struct field ServiceSpec\.Mode\.Replicated\.Replicas of type uint64/ },
  { name: 'fractional replicas', input: body({ Mode: { Replicated: { Replicas: 1.5 } } }), json: true, message: /number 1\.5 into Go struct field ServiceSpec\.Mode\.Replicated\.Replicas of type uint64/ },
  { name: 'replicas as a string', input: body({ Mode: { Replicated: { Replicas: '3' } } }), json: true, message: /string into Go struct field ServiceSpec\.Mode\.Replicated\.Replicas of type uint64/ },
  { name: 'both replicated and global', input: body({ Mode: { Replicated: {}, Global: {} } }), message: /either replicated or global, not both/ },
  { name: 'a mode that is neither', input: body({ Mode: {} }), message: /Mode must be \{"Replicated":\{"Replicas":N\}\} or \{"Global":\{\}\}/ },
  { name: 'a missing TaskTemplate', input: body({ TaskTemplate: undefined }), message: /TaskTemplate: missing/ },
  { name: 'a missing ContainerSpec', input: body({ TaskTemplate: {} }), message: /ContainerSpec: image reference must be provided/ },
  { name: 'a missing image', input: body({ TaskTemplate: { ContainerSpec: {} } }), message: /ContainerSpec: image reference must be provided/ },
  { name: 'an empty image', input: body({ TaskTemplate: { ContainerSpec: { Image: '' } } }), message: /ContainerSpec: image reference must be provided/ },
  { name: 'an image that is not a string', input: body({ TaskTemplate: { ContainerSpec: { Image: 7 } } }), json: true, message: /number 7 into Go struct field ServiceSpec\.TaskTemplate\.ContainerSpec\.Image of type string/ },
  { name: 'a Command that is not a list of strings', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx', Command: 'nginx -g' } } }), json: true, message: /string into Go struct field ServiceSpec\.TaskTemplate\.ContainerSpec\.Command of type \[\]string/ },
  { name: 'Env with a non-string entry', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx', Env: ['A=1', 2] } } }), json: true, message: /number 2 into Go struct field ServiceSpec\.TaskTemplate\.ContainerSpec\.Env\[1\] of type string/ },
  { name: 'a bad placement constraint', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { Constraints: ['node.role = worker'] } } }), message: /constraint expected one operator from ==, !=/ },
  { name: 'constraints that are not a list', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { Constraints: 'node.role == worker' } } }), json: true, message: /ServiceSpec\.TaskTemplate\.Placement\.Constraints of type \[\]string/ },
  { name: 'negative MaxReplicas', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { MaxReplicas: -1 } } }), json: true, message: /ServiceSpec\.TaskTemplate\.Placement\.MaxReplicas of type uint64/ },
  { name: 'a port protocol other than tcp/udp/sctp', input: ports([{ Protocol: 'http', TargetPort: 80 }]), message: /port protocol must be tcp, udp or sctp, got "http"/ },
  { name: 'an upper-case port protocol', input: ports([{ Protocol: 'TCP', TargetPort: 80 }]), message: /port protocol must be tcp, udp or sctp/ },
  { name: 'an unknown publish mode', input: ports([{ PublishMode: 'global', TargetPort: 80 }]), message: /port publish mode must be ingress or host, got "global"/ },
  { name: 'a target port above 65535', input: ports([{ TargetPort: 65536 }]), message: /TargetPort must be a port number between 1 and 65535, got 65536/ },
  { name: 'a negative target port', input: ports([{ TargetPort: -80 }]), json: true, message: /number -80 into Go struct field ServiceSpec\.EndpointSpec\.Ports\[0\]\.TargetPort of type uint32/ },
  { name: 'a fractional target port', input: ports([{ TargetPort: 80.5 }]), json: true, message: /number 80\.5 into Go struct field ServiceSpec\.EndpointSpec\.Ports\[0\]\.TargetPort of type uint32/ },
  { name: 'a target port given as a string', input: ports([{ TargetPort: '80' }]), json: true, message: /string into Go struct field ServiceSpec\.EndpointSpec\.Ports\[0\]\.TargetPort of type uint32/ },
  { name: 'a published port above 65535', input: ports([{ TargetPort: 80, PublishedPort: 70000 }]), message: /PublishedPort must be a port number between 1 and 65535, got 70000/ },
  { name: 'a negative published port', input: ports([{ TargetPort: 80, PublishedPort: -1 }]), json: true, message: /ServiceSpec\.EndpointSpec\.Ports\[0\]\.PublishedPort of type uint32/ },
  { name: 'a port without a target', input: ports([{ PublishedPort: 8080 }]), message: /every published port needs a TargetPort/ },
  { name: 'a target port of 0', input: ports([{ TargetPort: 0, PublishedPort: 8080 }]), message: /every published port needs a TargetPort/ },
  { name: 'a port entry that is not an object', input: ports([8080]), json: true, message: /number 8080 into Go struct field ServiceSpec\.EndpointSpec\.Ports\[0\] of type swarm\.PortConfig/ },
  { name: 'Ports that are not a list', input: body({ EndpointSpec: { Ports: { TargetPort: 80 } } }), json: true, message: /object into Go struct field ServiceSpec\.EndpointSpec\.Ports of type \[\]swarm\.PortConfig/ },
  {
    name: 'duplicate published ports',
    input: ports([{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 81, PublishedPort: 8080 }]),
    message: /^rpc error: code = InvalidArgument desc = EndpointSpec: duplicate published ports provided$/,
  },
  {
    name: 'duplicate published ports where one spells out tcp',
    input: ports([{ TargetPort: 80, PublishedPort: 8080 }, { Protocol: 'tcp', TargetPort: 81, PublishedPort: 8080, PublishMode: 'ingress' }]),
    message: /duplicate published ports provided/,
  },
  {
    name: 'dnsrr with an ingress published port',
    input: ports([{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }], 'dnsrr'),
    message: /^rpc error: code = InvalidArgument desc = EndpointSpec: port published with ingress mode can't be used with dnsrr mode$/,
  },
  {
    name: 'dnsrr with a port whose publish mode defaults to ingress',
    input: ports([{ TargetPort: 80 }], 'dnsrr'),
    message: /port published with ingress mode can't be used with dnsrr mode/,
  },
  { name: 'an unknown endpoint mode', input: body({ EndpointSpec: { Mode: 'rr' } }), message: /EndpointSpec\.Mode must be vip or dnsrr, got "rr"/ },
  { name: 'Labels that are not an object', input: body({ Labels: ['a'] }), json: true, message: /array into Go struct field ServiceSpec\.Labels of type map\[string\]string/ },
  { name: 'an UpdateConfig that is not an object', input: body({ UpdateConfig: 'fast' }), json: true, message: /string into Go struct field ServiceSpec\.UpdateConfig of type swarm\.UpdateConfig/ },
  { name: 'a negative update parallelism', input: body({ UpdateConfig: { Parallelism: -1 } }), json: true, message: /ServiceSpec\.UpdateConfig\.Parallelism of type uint64/ },
  { name: 'a fractional rollback parallelism', input: body({ RollbackConfig: { Parallelism: 0.5 } }), json: true, message: /ServiceSpec\.RollbackConfig\.Parallelism of type uint64/ },
  // Wrong types inside: stored, each would break every docker CLI that lists services afterwards.
  { name: 'a label value that is not a string', input: body({ Labels: { a: 5 } }), json: true, message: /number 5 into Go struct field ServiceSpec\.Labels\["a"\] of type string/ },
  { name: 'a Global mode that is not an object', input: body({ Mode: { Global: 5 } }), json: true, message: /ServiceSpec\.Mode\.Global of type swarm\.GlobalService/ },
  { name: 'a Replicated mode that is not an object', input: body({ Mode: { Replicated: 5 } }), json: true, message: /ServiceSpec\.Mode\.Replicated of type swarm\.ReplicatedService/ },
  { name: 'a stop grace period that is not a number', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx', StopGracePeriod: 'abc' } } }), json: true, message: /string into Go struct field ServiceSpec\.TaskTemplate\.ContainerSpec\.StopGracePeriod of type time\.Duration/ },
  { name: 'a restart delay that is not a number', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { Delay: 'x' } } }), json: true, message: /ServiceSpec\.TaskTemplate\.RestartPolicy\.Delay of type time\.Duration/ },
  { name: 'an unknown restart condition', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { Condition: 'always' } } }), message: /RestartPolicy\.Condition must be none, on-failure or any/ },
  { name: 'container labels that are not strings', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx', Labels: { a: true } } } }), json: true, message: /bool into Go struct field ServiceSpec\.TaskTemplate\.ContainerSpec\.Labels\["a"\] of type string/ },
  { name: 'a health check test that is not a list', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx', Healthcheck: { Test: 'curl' } } } }), json: true, message: /ServiceSpec\.TaskTemplate\.ContainerSpec\.Healthcheck\.Test of type \[\]string/ },
  // swarmkit's floor: 1 ns would probe every turn of the event loop.
  ...(['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const).flatMap((field) => [1, 999_999, -1].map((ns) => ({
    name: `a health ${field} of ${ns} ns`,
    input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx', Healthcheck: { Test: ['CMD', 'true'], [field]: ns } } } }),
    message: new RegExp(`^rpc error: code = InvalidArgument desc = ContainerSpec: ${field} in HealthConfig cannot be less than 1ms$`),
  }))),
  { name: 'negative health retries', input: body({ TaskTemplate: { ContainerSpec: { Image: 'nginx', Healthcheck: { Retries: -1 } } } }), message: /ContainerSpec: Retries in HealthConfig cannot be negative$/ },
  { name: 'an unknown update order', input: body({ UpdateConfig: { Parallelism: 1, Order: 'random' } }), message: /UpdateConfig\.Order must be stop-first or start-first/ },
  { name: 'a max failure ratio above 1', input: body({ UpdateConfig: { Parallelism: 1, MaxFailureRatio: 2 } }), message: /MaxFailureRatio must be a number between 0 and 1/ },
];

t.test('normalizeNodeSpec refuses wrong types and fills what `node update` may leave out', async (t) => {
  t.throws(() => normalizeNodeSpec({ Name: 5, Role: 'worker', Availability: 'active' }), { code: 'invalid_argument', message: /node Name must be a string/ });
  t.throws(() => normalizeNodeSpec({ Labels: { zone: 1 } }), { message: /node Labels must be an object of strings/ });
  t.throws(() => normalizeNodeSpec({ Availability: 'sleep' }), { message: /availability must be active, pause or drain, got "sleep"/ });
  t.throws(() => normalizeNodeSpec('drain'), { message: /the node spec must be a JSON object/ });
  t.same(normalizeNodeSpec({}), { Labels: {}, Role: 'worker', Availability: 'active' });
});

for (const row of refusals) {
  t.test(`normalizeServiceSpec refuses ${row.name}`, async (t) => {
    let caught: unknown;
    try {
      normalizeServiceSpec(row.input);
    } catch (error) {
      caught = error;
    }
    t.ok(caught instanceof SwarmError, 'throws a SwarmError');
    t.equal((caught as SwarmError).code, 'invalid_argument');
    if (row.json) t.match((caught as SwarmError).message, /^invalid JSON: json: cannot unmarshal /, 'worded as the daemon\'s JSON decoding error');
    else t.match((caught as SwarmError).message, /^rpc error: code = InvalidArgument desc = /, 'worded as swarmkit\'s gRPC error');
    t.match((caught as SwarmError).message, row.message);
  });
}

// swarmkit's rule allows underscores: every `docker stack deploy` service is named <stack>_<service>.
t.test('normalizeServiceSpec accepts underscores in names, as Swarm does', async (t) => {
  for (const name of ['my_web', 'stack_web', 'a__b', 'a-_-b']) {
    t.doesNotThrow(() => normalizeServiceSpec(body({ Name: name })), name);
  }
  for (const name of ['_web', 'web_']) {
    t.throws(() => normalizeServiceSpec(body({ Name: name })), { code: 'invalid_argument' }, `${name} stays refused`);
  }
});

t.test('normalizeServiceSpec keeps health durations of 0 (the default) and of 1ms or more', async (t) => {
  const health = { Test: ['CMD', 'true'], Interval: 1_000_000, Timeout: 0, StartPeriod: 2_592_000 * SECOND, StartInterval: 1_000_000, Retries: 0 };
  t.same(normalizeServiceSpec(body({ TaskTemplate: { ContainerSpec: { Image: 'nginx', Healthcheck: health } } })).TaskTemplate.ContainerSpec.Healthcheck, health);
});

t.test('withDefaults fills Swarm\'s defaults into a bare spec', async (t) => {
  const spec = withDefaults(normalizeServiceSpec(body()));
  const update = { Parallelism: 1, FailureAction: 'pause', Monitor: 5 * SECOND, MaxFailureRatio: 0, Order: 'stop-first' };
  t.same(spec.UpdateConfig, update);
  t.same(spec.RollbackConfig, update);
  t.same(spec.TaskTemplate.RestartPolicy, { Condition: 'any', Delay: 5 * SECOND, MaxAttempts: 0 });
  t.equal(spec.TaskTemplate.ContainerSpec.StopGracePeriod, 10 * SECOND);
  t.equal(spec.TaskTemplate.ContainerSpec.Isolation, 'default');
});

t.test('withDefaults keeps what the user set and fills only the rest', async (t) => {
  const spec = withDefaults(normalizeServiceSpec(body({
    TaskTemplate: {
      ContainerSpec: { Image: 'nginx', StopGracePeriod: 3 * SECOND },
      RestartPolicy: { Condition: 'on-failure', MaxAttempts: 3 },
    },
    UpdateConfig: { Parallelism: 2, Delay: 10 * SECOND, Order: 'start-first' },
    RollbackConfig: { Parallelism: 0, FailureAction: 'continue' },
  })));
  t.same(spec.UpdateConfig, { Parallelism: 2, Delay: 10 * SECOND, FailureAction: 'pause', Monitor: 5 * SECOND, MaxFailureRatio: 0, Order: 'start-first' });
  t.same(spec.RollbackConfig, { Parallelism: 0, FailureAction: 'continue', Monitor: 5 * SECOND, MaxFailureRatio: 0, Order: 'stop-first' });
  t.same(spec.TaskTemplate.RestartPolicy, { Condition: 'on-failure', Delay: 5 * SECOND, MaxAttempts: 3 });
  t.equal(spec.TaskTemplate.ContainerSpec.StopGracePeriod, 3 * SECOND);
});

t.test('withDefaults fills the rollback config apart from the update config', async (t) => {
  const spec = withDefaults(normalizeServiceSpec(body({ UpdateConfig: { Parallelism: 4, FailureAction: 'rollback' } })));
  t.equal(spec.UpdateConfig?.Parallelism, 4);
  t.equal(spec.RollbackConfig?.Parallelism, 1);
  t.equal(spec.RollbackConfig?.FailureAction, 'pause');
});

t.test('withDefaults does not mutate the stored spec', async (t) => {
  const stored = deepFreeze(normalizeServiceSpec(body()));
  const before = JSON.stringify(stored);
  const shown = withDefaults(stored);
  t.equal(JSON.stringify(stored), before);
  t.notOk('UpdateConfig' in stored);
  t.not(shown.TaskTemplate, stored.TaskTemplate);
});
