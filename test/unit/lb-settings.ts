// lbSettings and weightOf: what a service's routemesh.* labels set, and how a bad one is refused
// (an invalid-argument SwarmError naming the label and what it may be), also through normalizeServiceSpec.
import t from 'tap';
import type { Test } from 'tap';
import { DEFAULT_LB_SETTINGS, SwarmError, inRanges, lbSettings, normalizeServiceSpec, weightOf } from '../../src/swarm/index.js';
import type { LbSettings } from '../../src/swarm/index.js';

const WEIGHT = 'routemesh.lb.weight';
const ALGORITHMS = ['round-robin', 'weighted', 'least-conn', 'p2c', 'source-hash'];
/** Every label routemesh reads, as the refusal of an unknown one must list them. */
const KNOWN_LABELS = [
  'routemesh.lb.mode',
  'routemesh.lb.algorithm',
  'routemesh.lb.retries',
  'routemesh.lb.connect-timeout',
  'routemesh.lb.idle-timeout',
  'routemesh.lb.response-timeout',
  'routemesh.lb.header-timeout',
  'routemesh.lb.max-connections',
  'routemesh.lb.outlier.consecutive-failures',
  'routemesh.lb.outlier.base-ejection',
  'routemesh.lb.outlier.max-ejection',
  'routemesh.lb.outlier.max-ejected-percent',
  'routemesh.proxy-protocol',
  'routemesh.proxy-protocol.trusted',
  WEIGHT,
];
/** Go's duration syntax, and the real range: Node's timers fire at once past 2^31-1 ms. */
const DURATION_FORM = 'must be a duration like 250ms, 5s, 2m or 1h30m, in whole milliseconds, more than 0 and at most 596h31m23.647s';
const DURATION_OR_0 = 'must be a duration like 250ms, 5s, 2m or 1h30m, in whole milliseconds, 0s or more and at most 596h31m23.647s';
const RPC_PREFIX = 'rpc error: code = InvalidArgument desc = ';

type Patch = Partial<Omit<LbSettings, 'outlier'>> & { outlier?: Partial<LbSettings['outlier']> };

/** The defaults with `patch` applied: a row's whole expected result, so a stray change elsewhere fails too. */
function expected(patch: Patch = {}): LbSettings {
  const settings = structuredClone(DEFAULT_LB_SETTINGS);
  const { outlier, ...top } = patch;
  return { ...settings, ...top, outlier: { ...settings.outlier, ...outlier } };
}

/** The error `fn` throws, or undefined (after failing the test) when it returns. */
function caught(t: Test, fn: () => unknown): unknown {
  try {
    const value = fn();
    t.fail(`expected a refusal, got ${JSON.stringify(value)}`);
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Asserts an invalid-argument SwarmError whose message holds every one of `parts`. */
function assertRefused(t: Test, fn: () => unknown, parts: string[]): void {
  const error = caught(t, fn);
  if (!(error instanceof SwarmError)) {
    t.fail(`expected a SwarmError, got ${String(error)}`);
    return;
  }
  t.equal(error.code, 'invalid_argument', 'code is invalid_argument');
  t.ok(error.message.startsWith(RPC_PREFIX), `worded as gRPC's InvalidArgument: ${error.message}`);
  for (const part of parts) t.ok(error.message.includes(part), `message names ${JSON.stringify(part)}`);
}

// --- defaults -------------------------------------------------------------------------------------

interface DefaultRow {
  name: string;
  labels: Record<string, string> | undefined;
}

const defaultRows: DefaultRow[] = [
  { name: 'no argument', labels: undefined },
  { name: 'no labels', labels: {} },
  { name: 'an unrelated label', labels: { 'com.example.x': 'y' } },
  {
    name: 'Traefik labels (which look like ours but are not)',
    labels: {
      'traefik.enable': 'true',
      'traefik.http.services.web.loadbalancer.server.port': '80',
      'traefik.tcp.services.db.loadbalancer.proxyProtocol.version': '2',
    },
  },
  {
    name: 'labels only near the routemesh. prefix',
    labels: {
      'com.routemesh.lb.algorithm': 'fastest',
      'routemeshx.lb.algorithm': 'fastest',
      'Routemesh.lb.algorithm': 'fastest',
      routemesh: 'anything',
    },
  },
];

for (const row of defaultRows) {
  t.test(`lbSettings gives exactly the defaults for ${row.name}`, async (t) => {
    const settings = row.labels === undefined ? lbSettings() : lbSettings(row.labels);
    t.strictSame(settings, DEFAULT_LB_SETTINGS);
    t.not(settings, DEFAULT_LB_SETTINGS, 'a copy, not the shared defaults');
    t.not(settings.outlier, DEFAULT_LB_SETTINGS.outlier, 'the outlier settings are copied too');
  });
}

t.test('lbSettings returns a fresh object each call: mutating one does not change the next defaults', async (t) => {
  const snapshot = JSON.stringify(DEFAULT_LB_SETTINGS);
  const first = lbSettings();
  first.algorithm = 'p2c';
  first.retries = 9;
  first.outlier.maxEjectedPercent = 99;
  first.outlier.consecutiveFailures = 0;
  const second = lbSettings({ 'com.example.x': 'y' });
  t.strictSame(second, DEFAULT_LB_SETTINGS);
  t.equal(second.algorithm, 'round-robin');
  t.equal(second.outlier.maxEjectedPercent, 50);
  t.equal(JSON.stringify(DEFAULT_LB_SETTINGS), snapshot, 'DEFAULT_LB_SETTINGS itself is untouched');
  const patched = lbSettings({ 'routemesh.lb.outlier.max-ejected-percent': '10' });
  t.equal(patched.outlier.maxEjectedPercent, 10);
  t.equal(lbSettings().outlier.maxEjectedPercent, 50, 'a labelled result leaves the next call\'s defaults alone');
});

// --- valid values -----------------------------------------------------------------------------------

interface ValidRow {
  labels: Record<string, string>;
  settings: Patch;
}

// Rows whose value is the default (mode=tcp, connect-timeout=5s, response-timeout=60s, consecutive-failures=5) only fail when the
// value is misread (e.g. 5s read as 5); their neighbours fail when the label is not read at all.
const validRows: ValidRow[] = [
  ...ALGORITHMS.map((algorithm) => ({ labels: { 'routemesh.lb.algorithm': algorithm }, settings: { algorithm } as Patch })),
  { labels: { 'routemesh.lb.algorithm': '  least-conn  ' }, settings: { algorithm: 'least-conn' } },
  { labels: { 'routemesh.lb.mode': 'tcp' }, settings: { mode: 'tcp' } },
  { labels: { 'routemesh.lb.mode': ' tcp\n' }, settings: { mode: 'tcp' } },
  { labels: { 'routemesh.lb.mode': 'http' }, settings: { mode: 'http' } },
  { labels: { 'routemesh.lb.mode': ' http ' }, settings: { mode: 'http' } },
  { labels: { 'routemesh.lb.retries': '0' }, settings: { retries: 0 } },
  { labels: { 'routemesh.lb.retries': '10' }, settings: { retries: 10 } },
  { labels: { 'routemesh.lb.retries': ' 3 ' }, settings: { retries: 3 } },
  { labels: { 'routemesh.lb.connect-timeout': '250ms' }, settings: { connectTimeoutMs: 250 } },
  { labels: { 'routemesh.lb.connect-timeout': '5s' }, settings: { connectTimeoutMs: 5000 } },
  { labels: { 'routemesh.lb.connect-timeout': '2m' }, settings: { connectTimeoutMs: 120_000 } },
  // Go's syntax, as every Docker duration: compound, fractions, a leading dot, µs that are whole ms.
  { labels: { 'routemesh.lb.connect-timeout': '2m30s' }, settings: { connectTimeoutMs: 150_000 } },
  { labels: { 'routemesh.lb.connect-timeout': '1h30m' }, settings: { connectTimeoutMs: 5_400_000 } },
  { labels: { 'routemesh.lb.connect-timeout': '.5s' }, settings: { connectTimeoutMs: 500 } },
  { labels: { 'routemesh.lb.connect-timeout': '1s500000us' }, settings: { connectTimeoutMs: 1500 } },
  { labels: { 'routemesh.lb.idle-timeout': '596h31m23.647s' }, settings: { idleTimeoutMs: 2 ** 31 - 1 } },
  { labels: { 'routemesh.lb.idle-timeout': '0' }, settings: { idleTimeoutMs: 0 } },
  { labels: { 'routemesh.lb.connect-timeout': '1.5s' }, settings: { connectTimeoutMs: 1500 } },
  { labels: { 'routemesh.lb.connect-timeout': '0.25s' }, settings: { connectTimeoutMs: 250 } },
  { labels: { 'routemesh.lb.connect-timeout': '\t750ms\n' }, settings: { connectTimeoutMs: 750 } },
  { labels: { 'routemesh.lb.connect-timeout': '2147483647ms' }, settings: { connectTimeoutMs: 2 ** 31 - 1 } },
  { labels: { 'routemesh.lb.connect-timeout': '596h' }, settings: { connectTimeoutMs: 596 * 3_600_000 } },
  { labels: { 'routemesh.lb.idle-timeout': '0s' }, settings: { idleTimeoutMs: 0 } },
  { labels: { 'routemesh.lb.idle-timeout': '1h' }, settings: { idleTimeoutMs: 3_600_000 } },
  { labels: { 'routemesh.lb.idle-timeout': ' 90s ' }, settings: { idleTimeoutMs: 90_000 } },
  { labels: { 'routemesh.lb.response-timeout': '250ms' }, settings: { responseTimeoutMs: 250 } },
  { labels: { 'routemesh.lb.response-timeout': '60s' }, settings: { responseTimeoutMs: 60_000 } },
  { labels: { 'routemesh.lb.response-timeout': '5m' }, settings: { responseTimeoutMs: 300_000 } },
  { labels: { 'routemesh.lb.response-timeout': ' 1.5s ' }, settings: { responseTimeoutMs: 1500 } },
  { labels: { 'routemesh.lb.response-timeout': '2147483647ms' }, settings: { responseTimeoutMs: 2 ** 31 - 1 } },
  { labels: { 'routemesh.lb.mode': 'http', 'routemesh.lb.response-timeout': '2s' }, settings: { mode: 'http', responseTimeoutMs: 2000 } },
  { labels: { 'routemesh.lb.header-timeout': '300ms' }, settings: { headerTimeoutMs: 300 } },
  { labels: { 'routemesh.lb.header-timeout': '10s' }, settings: { headerTimeoutMs: 10_000 } },
  { labels: { 'routemesh.lb.mode': 'http', 'routemesh.lb.header-timeout': ' 1m ' }, settings: { mode: 'http', headerTimeoutMs: 60_000 } },
  {
    labels: { 'routemesh.lb.mode': 'http', 'routemesh.proxy-protocol.trusted': '10.0.0.0/8' },
    settings: { mode: 'http', trustedProxies: [{ base: 0x0a000000, size: 2 ** 24 }] },
  },
  { labels: { 'routemesh.lb.max-connections': '0' }, settings: { maxConnections: 0 } },
  { labels: { 'routemesh.lb.max-connections': '1000' }, settings: { maxConnections: 1000 } },
  { labels: { 'routemesh.lb.max-connections': '1000000' }, settings: { maxConnections: 1_000_000 } },
  { labels: { 'routemesh.lb.outlier.consecutive-failures': '0' }, settings: { outlier: { consecutiveFailures: 0 } } },
  { labels: { 'routemesh.lb.outlier.consecutive-failures': '5' }, settings: { outlier: { consecutiveFailures: 5 } } },
  { labels: { 'routemesh.lb.outlier.consecutive-failures': '1000' }, settings: { outlier: { consecutiveFailures: 1000 } } },
  { labels: { 'routemesh.lb.outlier.base-ejection': '10s' }, settings: { outlier: { baseEjectionMs: 10_000 } } },
  { labels: { 'routemesh.lb.outlier.base-ejection': '5m' }, settings: { outlier: { baseEjectionMs: 300_000 } } },
  { labels: { 'routemesh.lb.outlier.max-ejection': '1m' }, settings: { outlier: { maxEjectionMs: 60_000 } } },
  { labels: { 'routemesh.lb.outlier.max-ejection': '30s' }, settings: { outlier: { maxEjectionMs: 30_000 } } },
  { labels: { 'routemesh.lb.outlier.max-ejection': '1h' }, settings: { outlier: { maxEjectionMs: 3_600_000 } } },
  {
    labels: { 'routemesh.lb.outlier.base-ejection': '10m', 'routemesh.lb.outlier.max-ejection': '1h' },
    settings: { outlier: { baseEjectionMs: 600_000, maxEjectionMs: 3_600_000 } },
  },
  {
    labels: { 'routemesh.lb.outlier.base-ejection': '1s', 'routemesh.lb.outlier.max-ejection': '1000ms' },
    settings: { outlier: { baseEjectionMs: 1000, maxEjectionMs: 1000 } },
  },
  { labels: { 'routemesh.lb.outlier.max-ejected-percent': '0' }, settings: { outlier: { maxEjectedPercent: 0 } } },
  { labels: { 'routemesh.lb.outlier.max-ejected-percent': '100' }, settings: { outlier: { maxEjectedPercent: 100 } } },
  { labels: { 'routemesh.lb.outlier.max-ejected-percent': ' 25 ' }, settings: { outlier: { maxEjectedPercent: 25 } } },
  // The weight is a task's, read by weightOf; on the service it is checked but sets nothing here.
  { labels: { [WEIGHT]: '7' }, settings: {} },
  {
    labels: {
      'com.example.x': 'y',
      'routemesh.lb.algorithm': 'p2c',
      'routemesh.lb.retries': '4',
      'routemesh.lb.connect-timeout': '750ms',
      'routemesh.lb.idle-timeout': '10m',
      'routemesh.lb.response-timeout': '30s',
      'routemesh.lb.max-connections': '64',
      'routemesh.lb.outlier.consecutive-failures': '3',
      'routemesh.lb.outlier.base-ejection': '2s',
      'routemesh.lb.outlier.max-ejection': '20s',
      'routemesh.lb.outlier.max-ejected-percent': '30',
      [WEIGHT]: '2',
    },
    settings: {
      algorithm: 'p2c',
      retries: 4,
      connectTimeoutMs: 750,
      idleTimeoutMs: 600_000,
      responseTimeoutMs: 30_000,
      maxConnections: 64,
      outlier: { consecutiveFailures: 3, baseEjectionMs: 2000, maxEjectionMs: 20_000, maxEjectedPercent: 30 },
    },
  },
];

for (const row of validRows) {
  t.test(`lbSettings reads ${JSON.stringify(row.labels)}`, async (t) => {
    t.strictSame(lbSettings(row.labels), expected(row.settings));
  });
}

// --- invalid values ---------------------------------------------------------------------------------

interface InvalidRow {
  label: string;
  value: string;
  /** What the message must say besides `label <label>=<trimmed value>`. */
  says: string[];
}

const count = (min: number, max: number): string[] => [`must be a whole number from ${min} to ${max}`];
const ALGORITHM_LIST = [`must be one of ${ALGORITHMS.join(', ')}`];
const MODE_LIST = ['must be one of tcp, http'];

const invalidRows: InvalidRow[] = [
  { label: 'routemesh.lb.algorithm', value: 'fastest', says: ALGORITHM_LIST },
  { label: 'routemesh.lb.algorithm', value: '', says: ALGORITHM_LIST },
  { label: 'routemesh.lb.algorithm', value: 'Round-Robin', says: ALGORITHM_LIST },
  { label: 'routemesh.lb.algorithm', value: 'round robin', says: ALGORITHM_LIST },
  ...['udp', 'TCP', 'HTTP', '', 'https', 'http2', 'tcp,http'].map((value) => ({ label: 'routemesh.lb.mode', value, says: MODE_LIST })),
  ...['11', '-1', '1.5', '', 'two', '1e1', '0x5', '+3'].map((value) => ({ label: 'routemesh.lb.retries', value, says: count(0, 10) })),
  // Go's syntax has no unit above h (24d), and Node's timers none past 596h31m23.647s (597h).
  ...['5', '5 s', 'soon', '1.0005s', '-1s', '2147483648ms', '597h', '596h31m23.648s', '', '5S', '.s', '1d', '24d', '1m30', 'Infinitys', '0']
    .map((value) => ({ label: 'routemesh.lb.connect-timeout', value, says: [DURATION_FORM] })),
  ...['-1s', '1.0005s', 'forever', '597h', '24d']
    .map((value) => ({ label: 'routemesh.lb.idle-timeout', value, says: [DURATION_OR_0] })),
  ...['0s', '0ms', '0', '60', '-1s', '1.0005s', '2147483648ms', 'never', '']
    .map((value) => ({ label: 'routemesh.lb.response-timeout', value, says: [DURATION_FORM] })),
  ...['0s', '0', '10', '-1s', '1.0005s', '2147483648ms', 'never', '']
    .map((value) => ({ label: 'routemesh.lb.header-timeout', value, says: [DURATION_FORM] })),
  ...['1000001', '-1', 'unlimited'].map((value) => ({ label: 'routemesh.lb.max-connections', value, says: count(0, 1_000_000) })),
  ...['1001', 'five', '-5'].map((value) => ({ label: 'routemesh.lb.outlier.consecutive-failures', value, says: count(0, 1000) })),
  ...['soon', '5', '0.0001s'].map((value) => ({ label: 'routemesh.lb.outlier.base-ejection', value, says: [DURATION_FORM] })),
  ...['5 s', '2147483648ms', '-1m'].map((value) => ({ label: 'routemesh.lb.outlier.max-ejection', value, says: [DURATION_FORM] })),
  ...['101', '50%', '-1', '12.5'].map((value) => ({ label: 'routemesh.lb.outlier.max-ejected-percent', value, says: count(0, 100) })),
  ...['0', '1001', 'x'].map((value) => ({ label: WEIGHT, value, says: count(1, 1000) })),
];

for (const row of invalidRows) {
  t.test(`lbSettings refuses ${row.label}=${JSON.stringify(row.value)}`, async (t) => {
    assertRefused(t, () => lbSettings({ [row.label]: row.value }), [`label ${row.label}=${row.value.trim()}:`, ...row.says]);
  });
}

t.test('lbSettings refuses a bad label among good ones', async (t) => {
  assertRefused(t, () => lbSettings({
    'com.example.x': 'y',
    'routemesh.lb.algorithm': 'least-conn',
    'routemesh.lb.retries': '11',
    'routemesh.lb.connect-timeout': '1s',
  }), ['label routemesh.lb.retries=11:', ...count(0, 10)]);
});

// --- PROXY protocol, and unknown labels ---------------------------------------------------------------

interface LabelRefusalRow {
  label: string;
  value: string;
  says: string[];
}

const RANGES_FORM = 'must be IPv4 addresses or ranges, comma-separated, like 10.0.0.0/8,192.168.1.10';
const labelRefusals: LabelRefusalRow[] = [
  { label: 'routemesh.proxy-protocol', value: 'v3', says: ['label routemesh.proxy-protocol=v3:', 'must be one of v1, v2'] },
  { label: 'routemesh.proxy-protocol', value: 'on', says: ['label routemesh.proxy-protocol=on:', 'must be one of v1, v2'] },
  { label: 'routemesh.proxy-protocol.trusted', value: '10.0.0.0/33', says: ['label routemesh.proxy-protocol.trusted=10.0.0.0/33:', RANGES_FORM] },
  { label: 'routemesh.proxy-protocol.trusted', value: 'lb.example', says: [RANGES_FORM] },
  { label: 'routemesh.proxy-protocol.trusted', value: '10.0.0.1,,10.0.0.2', says: [RANGES_FORM] },
  { label: 'routemesh.proxy-protocol.trusted', value: '300.0.0.1', says: [RANGES_FORM] },
  ...['routemesh.lb.algoritm', 'routemesh.foo', 'routemesh.lb.Algorithm', 'routemesh.lb', 'routemesh.', 'routemesh.proxy-protocolx', 'routemesh.lb.weight.extra']
    .map((label) => ({ label, value: 'round-robin', says: [`label ${label} is not one routemesh knows: it reads `, ...KNOWN_LABELS] })),
];

for (const row of labelRefusals) {
  t.test(`lbSettings refuses the label ${row.label}`, async (t) => {
    assertRefused(t, () => lbSettings({ [row.label]: row.value }), row.says);
  });
}

// A kept-alive connection to a task carries the requests of many clients: no one PROXY header can name them.
const HTTP_PROXY_PROTOCOL = ['label routemesh.proxy-protocol is for tcp mode', 'in http mode (routemesh.lb.mode=http)', 'X-Forwarded-For and Forwarded'];
const httpProxyRefusals: Array<Record<string, string>> = [
  { 'routemesh.lb.mode': 'http', 'routemesh.proxy-protocol': 'v1' },
  { 'routemesh.lb.mode': 'http', 'routemesh.proxy-protocol': 'v2' },
  // The order labels come in does not matter.
  { 'routemesh.proxy-protocol': 'v2', 'routemesh.lb.mode': ' http ' },
  { 'routemesh.lb.mode': 'http', 'routemesh.proxy-protocol': 'v1', 'routemesh.proxy-protocol.trusted': '10.0.0.0/8' },
];

for (const labels of httpProxyRefusals) {
  t.test(`lbSettings refuses http mode with a PROXY header: ${JSON.stringify(labels)}`, async (t) => {
    assertRefused(t, () => lbSettings(labels), HTTP_PROXY_PROTOCOL);
  });
}

t.test('a PROXY header in tcp mode, said or by default, is still taken', async (t) => {
  t.strictSame(lbSettings({ 'routemesh.lb.mode': 'tcp', 'routemesh.proxy-protocol': 'v1' }), expected({ mode: 'tcp', proxyProtocol: 'v1' }));
  t.strictSame(lbSettings({ 'routemesh.proxy-protocol': 'v2' }), expected({ proxyProtocol: 'v2' }));
});

t.test('the response timeout defaults to 60s and is read on its own', async (t) => {
  t.equal(DEFAULT_LB_SETTINGS.responseTimeoutMs, 60_000);
  t.equal(lbSettings().responseTimeoutMs, 60_000);
  t.equal(lbSettings({ 'routemesh.lb.mode': 'http' }).responseTimeoutMs, 60_000, 'http mode alone keeps the default');
  const settings = lbSettings({ 'routemesh.lb.response-timeout': '250ms' });
  t.equal(settings.responseTimeoutMs, 250);
  t.equal(settings.connectTimeoutMs, DEFAULT_LB_SETTINGS.connectTimeoutMs, 'not the connect timeout');
  t.equal(settings.idleTimeoutMs, DEFAULT_LB_SETTINGS.idleTimeoutMs, 'nor the idle timeout');
});

t.test('the unknown-label message lists exactly the known labels, in order', async (t) => {
  const error = caught(t, () => lbSettings({ 'routemesh.foo': '1' }));
  t.type(error, SwarmError);
  t.equal((error as Error).message, `${RPC_PREFIX}label routemesh.foo is not one routemesh knows: it reads ${KNOWN_LABELS.join(', ')}`);
});

// --- max-ejection against base-ejection -------------------------------------------------------------

interface EjectionRow {
  name: string;
  labels: Record<string, string>;
  baseMs: number;
}

const ejectionRows: EjectionRow[] = [
  { name: 'a max-ejection below the default base-ejection', labels: { 'routemesh.lb.outlier.max-ejection': '10s' }, baseMs: 30_000 },
  {
    name: 'a max-ejection below the given base-ejection',
    labels: { 'routemesh.lb.outlier.base-ejection': '1m', 'routemesh.lb.outlier.max-ejection': '30s' },
    baseMs: 60_000,
  },
  {
    name: 'a max-ejection one millisecond short',
    labels: { 'routemesh.lb.outlier.max-ejection': '999ms', 'routemesh.lb.outlier.base-ejection': '1s' },
    baseMs: 1000,
  },
];

t.test('lbSettings: a base-ejection past the default max-ejection raises the cap, since no max was set', async (t) => {
  const { outlier } = lbSettings({ 'routemesh.lb.outlier.base-ejection': '10m' });
  t.equal(outlier.baseEjectionMs, 600_000);
  t.equal(outlier.maxEjectionMs, 600_000);
});

for (const row of ejectionRows) {
  t.test(`lbSettings refuses ${row.name}, naming both labels`, async (t) => {
    assertRefused(t, () => lbSettings(row.labels), [
      'routemesh.lb.outlier.max-ejection',
      'routemesh.lb.outlier.base-ejection',
      'must be at least',
      `(${row.baseMs}ms)`,
    ]);
  });
}

// --- durations that are whole milliseconds but not exact in binary -----------------------------------

// 1.001s is 1001ms and 0.017m is 1020ms, though Number('1.001') * 1000 is 1000.9999999999999.
const inexactRows: Array<{ value: string; ms: number }> = [
  { value: '1.001s', ms: 1001 },
  { value: '2.007s', ms: 2007 },
  { value: '0.017m', ms: 1020 },
];
for (const row of inexactRows) {
  t.test(`lbSettings reads connect-timeout=${row.value} as ${row.ms}ms`, async (t) => {
    let ms: number | undefined;
    try {
      ms = lbSettings({ 'routemesh.lb.connect-timeout': row.value }).connectTimeoutMs;
    } catch (error) {
      t.fail(String(error));
      return;
    }
    t.equal(ms, row.ms);
  });
}

// --- weightOf ---------------------------------------------------------------------------------------

interface WeightRow {
  name: string;
  container: Record<string, string> | undefined;
  service: Record<string, string> | undefined;
  weight: number;
}

const weightRows: WeightRow[] = [
  { name: 'the container label wins over the service label', container: { [WEIGHT]: '5' }, service: { [WEIGHT]: '9' }, weight: 5 },
  { name: 'the container label alone', container: { [WEIGHT]: '5' }, service: undefined, weight: 5 },
  { name: 'the service label when the container has none', container: { 'com.example.x': 'y' }, service: { [WEIGHT]: '9' }, weight: 9 },
  { name: 'the service label when the container has no labels', container: undefined, service: { [WEIGHT]: '9' }, weight: 9 },
  { name: 'the service label when the container labels are empty', container: {}, service: { [WEIGHT]: '9' }, weight: 9 },
  { name: 'the container label wins even over a bad service label', container: { [WEIGHT]: '3' }, service: { [WEIGHT]: 'x' }, weight: 3 },
  { name: 'default 1 with no labels at all', container: undefined, service: undefined, weight: 1 },
  { name: 'default 1 with empty labels', container: {}, service: {}, weight: 1 },
  { name: 'default 1 with only unrelated labels', container: { 'com.example.x': 'y' }, service: { 'routemesh.lb.algorithm': 'weighted' }, weight: 1 },
  { name: 'the lowest weight', container: { [WEIGHT]: '1' }, service: undefined, weight: 1 },
  { name: 'the highest weight', container: { [WEIGHT]: '1000' }, service: undefined, weight: 1000 },
  { name: 'a value with whitespace around it', container: { [WEIGHT]: ' 7 ' }, service: undefined, weight: 7 },
  { name: 'a service value with whitespace around it', container: undefined, service: { [WEIGHT]: '\t12\n' }, weight: 12 },
];

for (const row of weightRows) {
  t.test(`weightOf: ${row.name}`, async (t) => {
    t.equal(weightOf(row.container, row.service), row.weight);
  });
}

interface BadWeightRow {
  container: Record<string, string> | undefined;
  service: Record<string, string> | undefined;
  value: string;
}

const badWeightRows: BadWeightRow[] = [
  ...['0', '1001', 'x', '', '1.5', '-3', '1e2'].map((value) => ({ container: { [WEIGHT]: value }, service: undefined, value })),
  { container: undefined, service: { [WEIGHT]: '0' }, value: '0' },
  { container: {}, service: { [WEIGHT]: '1001' }, value: '1001' },
  { container: { [WEIGHT]: 'x' }, service: { [WEIGHT]: '5' }, value: 'x' },
];

for (const row of badWeightRows) {
  t.test(`weightOf refuses ${JSON.stringify(row.value)} (container ${JSON.stringify(row.container)}, service ${JSON.stringify(row.service)})`, async (t) => {
    assertRefused(t, () => weightOf(row.container, row.service), [`label ${WEIGHT}=${row.value}:`, ...count(1, 1000)]);
  });
}

// --- through normalizeServiceSpec -------------------------------------------------------------------

/** A valid body as the docker CLI sends it, with service and container labels. */
function body(labels: Record<string, string>, containerLabels?: Record<string, string>): Record<string, unknown> {
  return {
    Name: 'web',
    Labels: labels,
    TaskTemplate: { ContainerSpec: { Image: 'nginx:latest', ...(containerLabels ? { Labels: containerLabels } : {}) } },
    Mode: { Replicated: { Replicas: 2 } },
  };
}

interface SpecRefusalRow {
  name: string;
  input: Record<string, unknown>;
  says: string[];
}

const specRefusals: SpecRefusalRow[] = [
  { name: 'a bad algorithm in Labels', input: body({ 'routemesh.lb.algorithm': 'fastest' }), says: ['label routemesh.lb.algorithm=fastest:', ...ALGORITHM_LIST] },
  { name: 'a misspelt routemesh label in Labels', input: body({ 'routemesh.lb.algoritm': 'p2c' }), says: ['label routemesh.lb.algoritm is not one routemesh knows', ...KNOWN_LABELS] },
  { name: 'a bad mode in Labels', input: body({ 'routemesh.lb.mode': 'udp' }), says: ['label routemesh.lb.mode=udp:', ...MODE_LIST] },
  {
    name: 'http mode with a PROXY header in Labels',
    input: body({ 'routemesh.lb.mode': 'http', 'routemesh.proxy-protocol': 'v1' }),
    says: ['routemesh.proxy-protocol is for tcp mode', 'routemesh.lb.mode=http', 'X-Forwarded-For'],
  },
  { name: 'a zero response timeout in Labels', input: body({ 'routemesh.lb.response-timeout': '0s' }), says: ['label routemesh.lb.response-timeout=0s:', 'more than 0'] },
  { name: 'a bad PROXY protocol version in Labels', input: body({ 'routemesh.proxy-protocol': 'v9' }), says: ['must be one of v1, v2'] },
  { name: 'a bad service weight in Labels', input: body({ [WEIGHT]: '0' }), says: [`label ${WEIGHT}=0:`, ...count(1, 1000)] },
  { name: 'max-ejection below base-ejection in Labels', input: body({ 'routemesh.lb.outlier.max-ejection': '1s' }), says: ['routemesh.lb.outlier.max-ejection', 'routemesh.lb.outlier.base-ejection'] },
  { name: 'a zero weight in ContainerSpec.Labels', input: body({}, { [WEIGHT]: '0' }), says: [`label ${WEIGHT}=0:`, ...count(1, 1000)] },
  { name: 'a weight over 1000 in ContainerSpec.Labels', input: body({ [WEIGHT]: '5' }, { [WEIGHT]: '1001' }), says: [`label ${WEIGHT}=1001:`, ...count(1, 1000)] },
  { name: 'a weight that is not a number in ContainerSpec.Labels', input: body({}, { [WEIGHT]: 'heavy' }), says: [`label ${WEIGHT}=heavy:`, ...count(1, 1000)] },
];

for (const row of specRefusals) {
  t.test(`normalizeServiceSpec refuses ${row.name}`, async (t) => {
    assertRefused(t, () => normalizeServiceSpec(row.input), row.says);
  });
}

t.test('normalizeServiceSpec accepts good routemesh labels and keeps every label as given', async (t) => {
  const labels = {
    'com.example.x': 'y',
    'routemesh.lb.algorithm': ' weighted ',
    'routemesh.lb.connect-timeout': '1.5s',
    'routemesh.lb.outlier.max-ejected-percent': '100',
    [WEIGHT]: '3',
  };
  const containerLabels = { [WEIGHT]: '5', 'com.example.role': 'api' };
  const spec = normalizeServiceSpec(body(labels, containerLabels));
  t.strictSame(spec.Labels, labels, 'service labels kept untouched (not trimmed, none dropped)');
  t.strictSame(spec.TaskTemplate.ContainerSpec.Labels, containerLabels, 'container labels kept');
  t.strictSame(lbSettings(spec.Labels), expected({ algorithm: 'weighted', connectTimeoutMs: 1500, outlier: { maxEjectedPercent: 100 } }));
  t.equal(weightOf(spec.TaskTemplate.ContainerSpec.Labels, spec.Labels), 5);
});

t.test('lbSettings refuses a connect or response timeout of 0 (it would mean none) but takes an idle timeout of 0 (off)', async (t) => {
  assertRefused(t, () => lbSettings({ 'routemesh.lb.connect-timeout': '0s' }), ['routemesh.lb.connect-timeout=0s', 'more than 0']);
  assertRefused(t, () => lbSettings({ 'routemesh.lb.response-timeout': '0s' }), ['routemesh.lb.response-timeout=0s', 'more than 0']);
  assertRefused(t, () => lbSettings({ 'routemesh.lb.outlier.base-ejection': '0ms' }), ['routemesh.lb.outlier.base-ejection=0ms', 'more than 0']);
  t.equal(lbSettings({ 'routemesh.lb.idle-timeout': '0s' }).idleTimeoutMs, 0);
});

t.test('a routemesh label other than the weight among container labels is refused, pointing at service labels', async (t) => {
  for (const label of ['routemesh.lb.wieght', 'routemesh.lb.algorithm']) {
    const spec = { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx', Labels: { [label]: '5' } } }, Mode: { Replicated: { Replicas: 1 } } };
    assertRefused(t, () => normalizeServiceSpec(spec), [`container label ${label}`, 'routemesh reads only routemesh.lb.weight from container labels', '--label']);
  }
});

t.test('PROXY protocol labels: the version, and trusted ranges read as first address and size', async (t) => {
  t.equal(lbSettings({ 'routemesh.proxy-protocol': 'v1' }).proxyProtocol, 'v1');
  t.equal(lbSettings({ 'routemesh.proxy-protocol': 'v2' }).proxyProtocol, 'v2');
  t.equal(lbSettings({}).proxyProtocol, undefined, 'none by default');
  t.same(lbSettings({ 'routemesh.proxy-protocol.trusted': '10.1.2.3/8, 192.168.1.10' }).trustedProxies,
    [{ base: 0x0a000000, size: 2 ** 24 }, { base: 0xc0a8010a, size: 1 }], 'a range starts at its first address; a bare address is /32');
});

t.test('inRanges: plain and IPv4-mapped addresses, edges of a range', async (t) => {
  const ranges = lbSettings({ 'routemesh.proxy-protocol.trusted': '10.0.0.0/8,127.0.0.88' }).trustedProxies;
  const rows: [string, boolean][] = [
    ['10.0.0.0', true], ['10.255.255.255', true], ['11.0.0.0', false], ['9.255.255.255', false],
    ['127.0.0.88', true], ['127.0.0.89', false], ['::ffff:10.1.1.1', true], ['::1', false], ['not an address', false],
  ];
  for (const [address, expected] of rows) t.equal(inRanges(address, ranges), expected, address);
  t.equal(inRanges('10.0.0.1', []), false, 'no ranges: nobody is trusted');
});
