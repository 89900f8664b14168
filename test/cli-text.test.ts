// The small text rules behind the CLI: Go's human durations and duration syntax, natural order,
// docker's image and ID shortening, the flag parser, --publish, and engine addresses and their checks.
import t from 'tap';
import { imageWithoutDigest, prettyPrint, truncateId, withDefaultTag, ellipsis } from '../src/cli/dockerText.js';
import { formatGoDuration, parseGoDuration } from '../src/shared/index.js';
import { engineTarget, toBaseUrl, toTarget } from '../src/cli/engineAddress.js';
import { CliError } from '../src/cli/errors.js';
import { parseArgs, type FlagSpec } from '../src/cli/flags.js';
import { ageMs, humanDuration } from '../src/shared/index.js';
import { naturalCompare } from '../src/shared/index.js';
import { main } from '../src/cli/main.js';
import { parsePublish } from '../src/cli/publish.js';

t.test('human durations read as Go\'s units.HumanDuration', async (t) => {
  const s = 1000;
  const cases: [number, string][] = [
    [-5 * s, 'Less than a second'],
    [999, 'Less than a second'],
    [1 * s, '1 second'],
    [1999, '1 second'],
    [29 * s, '29 seconds'],
    [59.9 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [120 * s, '2 minutes'],
    [59 * 60 * s, '59 minutes'],
    [60 * 60 * s, 'About an hour'],
    [90 * 60 * s, '2 hours'],
    [47 * 3600 * s, '47 hours'],
    [48 * 3600 * s, '2 days'],
    [14 * 24 * 3600 * s, '2 weeks'],
    [60 * 24 * 3600 * s, '2 months'],
    [800 * 24 * 3600 * s, '2 years'],
  ];
  for (const [ms, words] of cases) t.equal(humanDuration(ms), words, `${ms} ms`);
  t.equal(humanDuration(ageMs(undefined, Date.parse('2026-01-01T00:00:00Z'))), '292 years', 'a missing timestamp is Go\'s zero time, and Go durations saturate');
});

t.test('Go duration syntax parses to nanoseconds', async (t) => {
  const cases: [string, number | undefined][] = [
    ['10s', 10e9], ['1m30s', 90e9], ['500ms', 5e8], ['1.5h', 5400e9], ['300us', 3e5], ['300µs', 3e5],
    ['2h45m', 9900e9], ['0', 0], ['-1s', -1e9], ['.5s', 5e8], ['10', undefined], ['', undefined], ['1x', undefined], ['s', undefined],
    // An int64 of nanoseconds holds up to 2562047h47m16.854775807s: Go refuses more as an invalid duration.
    ['2562047h', 2562047 * 3600e9], ['2562048h', undefined], ['100000000h', undefined], ['-100000000h', undefined], ['1d', undefined],
    // Its very limits, which a float sum rounds to 2^63; the number is the nearest a double holds.
    ['9223372036854775807ns', 2 ** 63], ['2562047h47m16.854775807s', 2 ** 63], ['-9223372036854775808ns', -(2 ** 63)],
    ['9223372036854775808ns', undefined], ['2562047h47m16.854775808s', undefined], ['-9223372036854775809ns', undefined],
    // A fraction of a nanosecond is dropped, as Go drops it.
    ['1.9ns', 1], ['1.0000000009s', 1e9],
  ];
  for (const [text, ns] of cases) t.equal(parseGoDuration(text), ns, text);
});

t.test('nanoseconds print as Go\'s Duration.String()', async (t) => {
  const cases: [number, string][] = [
    [0, '0s'], [5e9, '5s'], [10e9, '10s'], [90e9, '1m30s'], [3600e9, '1h0m0s'], [1.5e9, '1.5s'], [5e8, '500ms'], [1500, '1.5µs'], [-2e9, '-2s'],
  ];
  for (const [ns, text] of cases) t.equal(formatGoDuration(ns), text, text);
});

t.test('natural order puts node2 before node10', async (t) => {
  const sorted = ['node10', 'node2', 'node1', 'web.10', 'web.9', 'a', 'web.1'].sort(naturalCompare);
  t.same(sorted, ['a', 'node1', 'node2', 'node10', 'web.1', 'web.9', 'web.10']);
});

t.test('docker text rules', async (t) => {
  t.equal(prettyPrint('running'), 'Running');
  t.equal(prettyPrint('rollback_COMPLETED'), 'Rollback_completed');
  t.equal(prettyPrint(''), '');
  t.equal(truncateId('3m8ocp0wk1udaakn9a4hdwcd0'), '3m8ocp0wk1ud');
  t.equal(ellipsis('abcdef', 4), 'abc…');
  t.equal(ellipsis('abc', 4), 'abc');
  t.equal(imageWithoutDigest('nginx:1.25@sha256:abc'), 'nginx:1.25');
  t.equal(imageWithoutDigest('nginx@sha256:abc'), 'nginx@sha256:abc', 'no tag: the digest stays');
  t.equal(imageWithoutDigest('docker.io/library/nginx:latest'), 'nginx:latest');
  t.equal(withDefaultTag('nginx'), 'nginx:latest');
  t.equal(withDefaultTag('traefik/whoami'), 'traefik/whoami:latest');
  t.equal(withDefaultTag('localhost:5000/app'), 'localhost:5000/app:latest');
  t.equal(withDefaultTag('madvirus/simplenode:0.1'), 'madvirus/simplenode:0.1');
  t.equal(withDefaultTag('nginx@sha256:abc'), 'nginx@sha256:abc');
});

const SPECS: FlagSpec[] = [
  { name: 'name', kind: 'string', help: '' },
  { name: 'publish', short: 'p', kind: 'list', help: '' },
  { name: 'detach', short: 'd', kind: 'bool', help: '' },
  { name: 'quiet', short: 'q', kind: 'bool', help: '' },
];

t.test('flags: docker-style forms', async (t) => {
  const a = parseArgs(['--name', 'web', '-p', '80:80', '--publish=81:81', '-p82:82', '-dq', 'IMG'], SPECS, { command: 'x' });
  t.equal(a.string('name'), 'web');
  t.same(a.list('publish'), ['80:80', '81:81', '82:82']);
  t.ok(a.bool('detach'));
  t.ok(a.bool('quiet'));
  t.same(a.positionals, ['IMG']);
  const b = parseArgs(['--name=x', 'IMG', '--detach', '--', '-q'], SPECS, { command: 'x' });
  t.ok(b.bool('detach'), 'flags after a positional still count by default');
  t.same(b.positionals, ['IMG', '-q']);
  const c = parseArgs(['--name', 'x', 'python3', '-m', 'http.server', '--bind', 'h'], SPECS, { command: 'x', interspersed: false });
  t.same(c.positionals, ['python3', '-m', 'http.server', '--bind', 'h'], 'the image\'s command keeps its flags');
  t.notOk(parseArgs(['--detach=false'], SPECS, { command: 'x' }).bool('detach'));
  t.ok(parseArgs(['--help'], SPECS, { command: 'x' }).bool('help'));
});

t.test('flags: mistakes are usage errors naming the help', async (t) => {
  const err = (argv: string[]): CliError | undefined => {
    try {
      parseArgs(argv, SPECS, { command: 'routemesh service create' });
    } catch (e) {
      return e as CliError;
    }
    return undefined;
  };
  t.match(err(['--nope']), { code: 'CLI_USAGE', exitCode: 2, message: "unknown flag: --nope\nSee 'routemesh service create --help'." });
  t.match(err(['-x']), { message: /^unknown shorthand flag: 'x' in -x/ });
  t.match(err(['--name']), { message: /^flag needs an argument: --name/ });
});

t.test('--publish: long and short syntax as docker parses them', async (t) => {
  t.same(parsePublish('published=8080,target=80'), [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]);
  t.same(parsePublish('target=53,published=53,protocol=udp,mode=host'), [{ Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'host' }]);
  t.same(parsePublish('8080:80'), [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]);
  t.same(parsePublish('5353:53/udp'), [{ Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'ingress' }]);
  t.same(parsePublish('80'), [{ Protocol: 'tcp', TargetPort: 80, PublishMode: 'ingress' }]);
  t.same(parsePublish('8080-8081:80-81').map((p) => `${p.PublishedPort}:${p.TargetPort}`), ['8080:80', '8081:81']);
  t.throws(() => parsePublish('published=8080'), { message: /missing mandatory field 'target'/ });
  t.throws(() => parsePublish('published=8080,target=80,mode=weird'), { message: /invalid publish mode value \(weird\)/ });
  t.throws(() => parsePublish('1.2.3.4:80:80'), { message: /hostip is not supported/ });
});

t.test('engine address: ROUTEMESH_HOST, then DOCKER_HOST, then node1', async (t) => {
  t.same(engineTarget({}), { host: 'tcp://127.1.0.1:2375', baseUrl: 'http://127.1.0.1:2375' });
  t.same(engineTarget({ DOCKER_HOST: 'tcp://127.78.0.2:2375' }).baseUrl, 'http://127.78.0.2:2375');
  t.same(engineTarget({ DOCKER_HOST: 'tcp://127.78.0.2:2375', ROUTEMESH_HOST: 'http://127.78.0.3:4000' }).baseUrl, 'http://127.78.0.3:4000');
  t.equal(engineTarget({ DOCKER_HOST: 'unix:///var/run/docker.sock' }).host, 'tcp://127.1.0.1:2375', 'the real docker\'s socket is passed by');
  t.equal(engineTarget({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }).host, 'tcp://127.1.0.1:2375', 'a rootless docker\'s too');
  t.equal(engineTarget({ DOCKER_HOST: 'unix:///run/user/1000/podman/podman.sock' }).host, 'tcp://127.1.0.1:2375', 'and podman\'s: only a node\'s socket is ours');
  t.equal(engineTarget({ DOCKER_HOST: 'unix:///run/containerd/127.1.sock' }).host, 'tcp://127.1.0.1:2375', 'a node\'s socket is named by an IPv4 address');
  t.throws(() => engineTarget({ DOCKER_HOST: 'unix://127.1.0.2.sock' }), { message: /^DOCKER_HOST=unix:\/\/127\.1\.0\.2\.sock is not a routemesh engine address: a socket path is absolute/ },
    'a node\'s socket named without its directory is ours, and refused as such');
  t.same(engineTarget({ DOCKER_HOST: 'unix:///run/routemesh/127.1.0.2.sock' }),
    { host: 'unix:///run/routemesh/127.1.0.2.sock', baseUrl: 'http://localhost', socketPath: '/run/routemesh/127.1.0.2.sock' }, 'a node\'s socket is ours');
  t.same(engineTarget({ ROUTEMESH_HOST: 'unix:///var/run/docker.sock' }).socketPath, '/var/run/docker.sock', 'ROUTEMESH_HOST is taken as it says');
  t.same(engineTarget({ ROUTEMESH_HOST: 'unix:///run/podman/podman.sock', DOCKER_HOST: 'tcp://127.78.0.2:2375' }).socketPath, '/run/podman/podman.sock', 'whatever socket it names');
  t.equal(engineTarget({ DOCKER_HOST: 'ssh://me@box' }).host, 'tcp://127.1.0.1:2375', 'so is a docker over ssh');
  t.equal(engineTarget({ ROUTEMESH_HOST: '  ', DOCKER_HOST: '' }).host, 'tcp://127.1.0.1:2375', 'blank counts as unset');
});

t.test('engine address: tcp:// or http://, an IP address or a host name, and a port', async (t) => {
  const accepted: [string, string][] = [
    ['tcp://127.1.0.1:2375', 'http://127.1.0.1:2375'],
    ['http://127.78.0.3:4000', 'http://127.78.0.3:4000'],
    ['TCP://127.78.0.3:4000/', 'http://127.78.0.3:4000'],
    ['tcp://localhost:2375', 'http://localhost:2375'],
    ['tcp://Node-1.example.com:65535', 'http://node-1.example.com:65535'],
    ['tcp://[::1]:2375', 'http://[::1]:2375'],
    ['tcp://127.1.0.1', 'http://127.1.0.1:2375'],
    ['tcp://0.0.0.0:1', 'http://0.0.0.0:1'],
  ];
  for (const [address, baseUrl] of accepted) t.equal(toBaseUrl(address), baseUrl, address);

  const refused: [string, RegExp][] = [
    ['garbage', /it does not start with tcp:\/\/, http:\/\/ or unix:\/\//],
    ['127.78.0.4:2376', /it does not start with tcp:\/\/, http:\/\/ or unix:\/\//],
    ['unix://run/routemesh/127.1.0.1.sock', /a socket path is absolute, like unix:\/\/\/run\/routemesh\/127\.1\.0\.1\.sock/],
    ['npipe:////./pipe/docker_engine', /npipe:\/\/ is Windows' named pipe; routemesh engines listen on TCP and Unix sockets/],
    ['ssh://me@box', /ssh:\/\/ is not supported/],
    ['https://127.1.0.1:2376', /https:\/\/ is not supported/],
    ['tcp://127.1.0.1:', /it has no port/],
    ['tcp://:2375', /it names no host/],
    ['tcp://127.1.0.1:0', /the port 0 is not a number from 1 to 65535/],
    ['tcp://127.1.0.1:65536', /the port 65536 is not a number from 1 to 65535/],
    ['tcp://127.1.0.1:http', /the port http is not a number from 1 to 65535/],
    ['tcp://127.1.0.1:2375:80', /the port 2375:80 is not a number/],
    ['tcp://300.1.0.1:2375', /300\.1\.0\.1 is not an IPv4 address/],
    ['tcp://127.1:2375', /127\.1 is not an IPv4 address/],
    ['tcp://[::zz]:2375', /\[::zz\] is not an IPv6 address/],
    ['tcp://::1:2375', /an IPv6 address goes in brackets/],
    ['tcp://[::1]x:2375', /an IPv6 address goes in brackets/],
    ['tcp://my_host:2375', /my_host is neither an IP address nor a host name/],
    ['tcp://-node:2375', /-node is neither an IP address nor a host name/],
    ['tcp://node..1:2375', /node\.\.1 is neither/],
    ['tcp://127.1.0.1:2375/v1.50', /no path, user, query or fragment/],
    ['tcp://user@127.1.0.1:2375', /no path, user, query or fragment/],
  ];
  for (const [address, why] of refused) {
    t.throws(() => toTarget(address), { code: 'CLI_USAGE', exitCode: 2, message: why }, address);
    t.throws(() => toTarget(address), {
      message: new RegExp(`^ROUTEMESH_HOST=${escape(address)} is not a routemesh engine address: .*\\.\\n` +
        'Set ROUTEMESH_HOST to tcp://HOST:PORT, http://HOST:PORT or unix:///PATH, e\\.g\\. tcp://127\\.1\\.0\\.1:2375 '),
    }, `${address}: names the variable and says what to set it to`);
  }
  t.throws(() => engineTarget({ DOCKER_HOST: 'tcp://gar_bage' }),
    { message: /^DOCKER_HOST=tcp:\/\/gar_bage is not a routemesh engine address: gar_bage is neither an IP address nor a host name\.\nFix DOCKER_HOST, or set ROUTEMESH_HOST/ },
    'a bad tcp:// DOCKER_HOST is named as such');
});

t.test('a bad ROUTEMESH_HOST is a usage error before any request', async (t) => {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: { ROUTEMESH_HOST: 'garbage' }, isTTY: false };
  t.equal(await main(['node', 'ls'], io), 2, 'exit 2, as other usage errors');
  t.equal(stdout, '');
  t.match(stderr, /^ROUTEMESH_HOST=garbage is not a routemesh engine address: it does not start with tcp:\/\/, http:\/\/ or unix:\/\/\.\nSet ROUTEMESH_HOST to tcp:\/\/HOST:PORT/);
  t.notMatch(stderr, /getaddrinfo|ENOTFOUND/);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
