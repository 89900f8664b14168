// service create flags → the ServiceSpec the docker CLI sends (transcript bodies, with the registry digest
// and platforms left out since routemesh has no registry), and service update's edits of a fetched spec.
import t from 'tap';
import type { ApiServiceSpec } from '../src/cli/apiTypes.js';
import { applyUpdateFlags, updateCommand } from '../src/cli/commands/serviceUpdate.js';
import { parseArgs } from '../src/cli/flags.js';
import { buildServiceSpec, CREATE_FLAGS } from '../src/cli/serviceSpec.js';

/** The bodies of POST /services/create and /update that docker 28.2.2 sent. */
const DOCKER_BODIES = {
  myweb: "{\"Name\":\"my-web\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx:latest@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":1}},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":80,\"PublishMode\":\"ingress\"}]}}",
  study: "{\"Name\":\"study\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx:latest@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Global\":{}},\"EndpointSpec\":{\"Mode\":\"vip\"}}",
  simple: "{\"Name\":\"simple\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx:1.25@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\",\"Init\":false,\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"curl -f http://localhost:5000/health\"],\"Interval\":10000000000,\"Timeout\":3000000000,\"StartPeriod\":10000000000,\"Retries\":3},\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":3}},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":5000,\"PublishedPort\":5000,\"PublishMode\":\"ingress\"}]}}",
  backend: "{\"Name\":\"backend\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"redis:latest@sha256:34fb46c847bb9df96e5205a39d382f648a6e8dce1e014cd85b4ca6a88d88ed03\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Constraints\":[\"node.role == worker\"],\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"EndpointSpec\":{\"Mode\":\"vip\"}}",
  quick: "{\"Name\":\"quick\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx:latest@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{}},\"EndpointSpec\":{\"Mode\":\"vip\"}}",
  update: "{\"Name\":\"simple\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx:1.27@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\",\"Init\":false,\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"curl -f http://localhost:5000/health\"],\"Interval\":10000000000,\"Timeout\":3000000000,\"StartPeriod\":10000000000,\"Retries\":3},\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":3}},\"UpdateConfig\":{\"Parallelism\":1,\"Delay\":10000000000,\"FailureAction\":\"pause\",\"Monitor\":5000000000,\"MaxFailureRatio\":0,\"Order\":\"start-first\"},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":5000,\"PublishedPort\":5000,\"PublishMode\":\"ingress\"}]}}",
};

/** What docker would have sent without a registry to resolve the image against. */
function withoutRegistry(json: string): string {
  const spec = JSON.parse(json.replace(/@sha256:[0-9a-f]{64}/g, '')) as ApiServiceSpec;
  delete spec.TaskTemplate!.Placement!.Platforms;
  return JSON.stringify(spec);
}

const create = (argv: string[], env: Record<string, string> = {}): string =>
  JSON.stringify(buildServiceSpec(parseArgs(argv, CREATE_FLAGS, { command: 'routemesh service create', interspersed: false }), env));

t.test('create bodies match docker\'s, field for field and in order', async (t) => {
  t.equal(create(['--name', 'my-web', '--publish', 'published=80,target=80', '--replicas', '1', 'nginx']), withoutRegistry(DOCKER_BODIES.myweb));
  t.equal(create(['--name', 'study', '--mode', 'global', 'nginx']), withoutRegistry(DOCKER_BODIES.study));
  t.equal(create(['--name', 'simple', '--replicas', '3', '--publish', 'published=5000,target=5000',
    '--health-cmd', 'curl -f http://localhost:5000/health', '--health-timeout=3s', '--health-retries=3',
    '--health-interval=10s', '--health-start-period=10s', 'nginx:1.25']), withoutRegistry(DOCKER_BODIES.simple));
  t.equal(create(['--name', 'backend', '--constraint', 'node.role == worker', '--replicas', '2', 'redis']), withoutRegistry(DOCKER_BODIES.backend));
  t.equal(create(['--detach', '--name', 'quick', 'nginx']), withoutRegistry(DOCKER_BODIES.quick), 'no --replicas: "Replicated":{}');
});

t.test('update flags give a complete UpdateConfig with swarm\'s defaults', async (t) => {
  const spec = JSON.parse(create(['--name', 'web', '--update-delay', '1m30s', 'nginx'])) as ApiServiceSpec;
  t.same(spec.UpdateConfig, { Parallelism: 1, Delay: 90e9, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' });
  t.same(Object.keys(spec), ['Name', 'Labels', 'TaskTemplate', 'Mode', 'UpdateConfig', 'EndpointSpec']);
});

t.test('the other create flags land where docker puts them', async (t) => {
  const spec = JSON.parse(create(['--name', 'app', '-p', '8080:80', '-p', '5353:53/udp', '--env', 'A=1', '--env', 'FROM_ENV',
    '--label', 'b=2', '--label', 'a=1', '--container-label', 'c=3', '--endpoint-mode', 'dnsrr', '--no-healthcheck',
    '--restart-condition', 'on-failure', '--restart-delay', '500ms', '--restart-max-attempts', '2', '--stop-grace-period', '2s',
    '--replicas-max-per-node', '1', '--user', 'www-data:www-data', 'routemesh/exec', 'python3', '-m', 'http.server', '80', '--bind', '${HOST}'], { FROM_ENV: 'x' })) as ApiServiceSpec;
  t.same(spec.Labels, { a: '1', b: '2' });
  t.same(Object.keys(spec.Labels!), ['a', 'b'], 'labels sorted as Go encodes maps');
  t.same(spec.TaskTemplate!.ContainerSpec, {
    Image: 'routemesh/exec:latest', Labels: { c: '3' }, Args: ['python3', '-m', 'http.server', '80', '--bind', '${HOST}'],
    Env: ['A=1', 'FROM_ENV=x'], User: 'www-data:www-data', Init: false, StopGracePeriod: 2e9, Healthcheck: { Test: ['NONE'] }, DNSConfig: {},
  });
  t.same(Object.keys(spec.TaskTemplate!.ContainerSpec!).slice(3, 6), ['Env', 'User', 'Init'], 'User where Go puts it, after Env');
  t.same(spec.TaskTemplate!.RestartPolicy, { Condition: 'on-failure', Delay: 5e8, MaxAttempts: 2 });
  t.same(spec.TaskTemplate!.Placement, { MaxReplicas: 1 });
  t.same(spec.EndpointSpec, { Mode: 'dnsrr', Ports: [
    { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
    { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'ingress' },
  ] });
});

t.test('create refuses what docker refuses', async (t) => {
  t.throws(() => create(['--mode', 'global', '--replicas', '2', 'nginx']), { code: 'CLI_USAGE', message: 'replicas can only be used with replicated or replicated-job mode' });
  t.throws(() => create(['--mode', 'daemonset', 'nginx']), { message: /Unknown mode: daemonset/ });
  t.throws(() => create(['--replicas', 'two', 'nginx']), { message: /invalid argument "two" for "--replicas" flag/ });
  t.throws(() => create(['--update-delay', '10', 'nginx']), { message: 'invalid argument "10" for "--update-delay" flag: time: invalid duration "10"' });
  t.throws(() => create(['--no-healthcheck', '--health-cmd', 'true', 'nginx']), { message: '--no-healthcheck conflicts with --health-* options' });
  t.throws(() => create(['--label', '=x', 'nginx']), { code: 'CLI_USAGE', message: 'invalid label \'=x\': empty name' }, 'a label needs a key, as docker says');
  t.throws(() => create(['--container-label', ' ', 'nginx']), { code: 'CLI_USAGE', message: 'invalid label \' \': empty name' });
  t.throws(() => create(['--update-order', 'sideways', 'nginx']), { message: /--update-order/ });
  // Beyond what docker's Go types hold, refused as docker does (its words, checked with docker 28), not sent as 1e+23.
  t.throws(() => create(['--health-interval', '100000000h', 'nginx']), { code: 'CLI_USAGE', message: 'invalid argument "100000000h" for "--health-interval" flag: time: invalid duration "100000000h"' });
  t.throws(() => create(['--stop-grace-period', '10000000h', 'nginx']), { code: 'CLI_USAGE', message: 'invalid argument "10000000h" for "--stop-grace-period" flag: time: invalid duration "10000000h"' });
  t.throws(() => create(['--replicas', '18446744073709551616', 'nginx']), {
    code: 'CLI_USAGE', message: 'invalid argument "18446744073709551616" for "--replicas" flag: strconv.ParseUint: parsing "18446744073709551616": value out of range',
  });
  t.throws(() => create(['--health-retries', '99999999999999999999', 'nginx']), {
    code: 'CLI_USAGE', message: 'invalid argument "99999999999999999999" for "--health-retries" flag: strconv.ParseInt: parsing "99999999999999999999": value out of range',
  });
  t.throws(() => create(['--restart-max-attempts', '99999999999999999999', 'nginx']), { message: /--restart-max-attempts" flag: strconv\.ParseUint: parsing "99999999999999999999": value out of range$/ });
  t.match(create(['--stop-grace-period', '2562047h', 'nginx']), /"StopGracePeriod":9223369200000000000/, 'the longest duration short of Go\'s limit');
});

t.test('update edits the fetched spec and sends the rest back as it came', async (t) => {
  const current = JSON.parse(withoutRegistry(DOCKER_BODIES.simple)) as ApiServiceSpec;
  const args = parseArgs(['--update-parallelism', '1', '--update-delay', '10s', '--update-order', 'start-first', '--image', 'nginx:1.27', 'simple'],
    updateCommand.flags, { command: 'routemesh service update' });
  t.equal(JSON.stringify(applyUpdateFlags(current, args)), withoutRegistry(DOCKER_BODIES.update));
  t.equal(current.TaskTemplate!.ContainerSpec!.Image, 'nginx:1.25', 'the fetched spec itself is left alone');
});

t.test('update: env, labels, constraints, ports, replicas and force', async (t) => {
  const current = JSON.parse(create(['--name', 'web', '--env', 'A=1', '--env', 'B=2', '-p', '8080:80', '--replicas', '2', 'nginx'])) as ApiServiceSpec;
  const args = parseArgs(['--env-add', 'B=3', '--env-add', 'C=4', '--env-rm', 'A', '--label-add', 'tier=web', '--constraint-add', 'node.role == worker',
    '--publish-add', '9090:90', '--publish-rm', '80', '--replicas', '4', '--force', '--user', '1000', 'web'], updateCommand.flags, { command: 'x' });
  const spec = applyUpdateFlags(current, args);
  t.same(spec.TaskTemplate!.ContainerSpec!.Env, ['B=3', 'C=4']);
  t.equal(spec.TaskTemplate!.ContainerSpec!.User, '1000');
  t.same(spec.Labels, { tier: 'web' });
  t.same(spec.TaskTemplate!.Placement!.Constraints, ['node.role == worker']);
  t.same(spec.EndpointSpec!.Ports, [{ Protocol: 'tcp', TargetPort: 90, PublishedPort: 9090, PublishMode: 'ingress' }]);
  t.equal(spec.Mode!.Replicated!.Replicas, 4);
  t.equal(spec.TaskTemplate!.ForceUpdate, 1);
  const global = JSON.parse(create(['--mode', 'global', 'nginx'])) as ApiServiceSpec;
  t.throws(() => applyUpdateFlags(global, parseArgs(['--replicas', '2', 'x'], updateCommand.flags, { command: 'x' })),
    { message: 'replicas can only be used with replicated or replicated-job mode' });
});
