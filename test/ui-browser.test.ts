// The dashboard (GET /ui/ on a manager's engine API) in a real Chromium: it draws the demo's nodes and task
// cards, each node's bars of where its connections went, and follows a scale, a node failure and an
// ejection live, without reloading. DOM assertions only; the page's contract is its data-* attributes (see
// readDashboard). The tests run in order on one cluster, each starting from the state the one before left:
// 6 replicas, then 3, then node3 failed. Passing runs keep their screenshots with ROUTEMESH_SCREENSHOTS=1.
import t from 'tap';
import type { Page } from 'playwright-core';
import { screenshotIfAsked, testBrowser } from './support/browser.js';
import { httpGet } from './support/net.js';
import { api, published, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';

// All in 127.113/16: the blocks of a plain testCluster(111) would overlap prometheus-sd's tasks and VIPs (127.111-112).
const B = testBlock(113);
const BLOCKS = { subnet: `127.${B}.0.0/24`, taskSubnet: `127.${B}.16.0/20`, vipSubnet: `127.${B}.32.0/20`, dns: `127.${B}.0.250` };
/** The promise is 1 s from a change to the page; twice that absorbs a loaded machine. */
const LIVE_MS = 2000;

interface CardView { service: string; task: string; slot: string; state: string; text: string }
interface NodeView { node: string; state: string; role: string; availability: string; leader: string; cards: CardView[] }
interface DashboardView {
  connected: string | null;
  /** The service whose pools the mesh grid and bars show. */
  meshService: string;
  /** The grid: each node's pool state per task, and the fault on that node's way to it. */
  pools: { node: string; task: string; state: string; fault: string }[];
  /** The injected faults listed. */
  faults: { kind: string; text: string }[];
  /** What the fault form last said went wrong. */
  faultError: string;
  /** The bars: what each node (and `all nodes`) handed each task in the last minute. */
  bars: { node: string; task: string; count: number }[];
  nodes: NodeView[];
  /** Every task card in the page, in a node's section or not. */
  cardCount: number;
  services: { service: string; running: string; desired: string }[];
  /** The timeline's lines as shown, newest first. */
  timeline: string[];
}

/** What the page shows, read from its data-* attributes. */
function readDashboard(page: Page): Promise<DashboardView> {
  // Only unnamed functions in here: tsx would wrap a named one in a helper the page does not have.
  return page.evaluate(() => ({
    connected: document.querySelector('main#dashboard')?.getAttribute('data-connected') ?? null,
    meshService: document.querySelector<HTMLSelectElement>('select#mesh-service')?.value ?? '',
    pools: [...document.querySelectorAll<HTMLElement>('table#pools td.member')].map(({ dataset: cell }) => ({
      node: cell.node ?? '', task: cell.task ?? '', state: cell.state ?? '', fault: cell.fault ?? '',
    })),
    faults: [...document.querySelectorAll<HTMLElement>('table#fault-list tbody tr')].map((row) => ({ kind: row.dataset.kind ?? '', text: row.textContent ?? '' })),
    faultError: document.querySelector<HTMLOutputElement>('output#fault-error')?.value ?? '',
    bars: [...document.querySelectorAll<HTMLElement>('figure.distribution')].flatMap((figure) =>
      [...figure.querySelectorAll<HTMLElement>('.bar')].map((bar) => ({ node: figure.dataset.node ?? '', task: bar.dataset.task ?? '', count: Number(bar.dataset.count) }))),
    nodes: [...document.querySelectorAll<HTMLElement>('section.node')].map(({ dataset: node }) => ({
      node: node.node ?? '', state: node.state ?? '', role: node.role ?? '', availability: node.availability ?? '', leader: node.leader ?? '',
      cards: [...document.querySelectorAll<HTMLElement>(`section.node[data-node="${node.node}"] article.task`)].map((card) => ({
        service: card.dataset.service ?? '', task: card.dataset.task ?? '', slot: card.dataset.slot ?? '', state: card.dataset.state ?? '', text: card.textContent ?? '',
      })),
    })),
    cardCount: document.querySelectorAll('article.task').length,
    services: [...document.querySelectorAll<HTMLElement>('table#services tr.service')].map(({ dataset: row }) => ({
      service: row.service ?? '', running: row.running ?? '', desired: row.desired ?? '',
    })),
    timeline: [...document.querySelectorAll('ol#timeline li')].map((line) => line.textContent ?? ''),
  }));
}

/** Polls the page until `ready` holds (bounded); a timeout shows what the page showed last. */
async function waitForDashboard(page: Page, what: string, ready: (view: DashboardView) => boolean, timeoutMs = LIVE_MS): Promise<DashboardView> {
  let last: DashboardView | undefined;
  try {
    return await waitFor(what, async () => {
      last = await readDashboard(page);
      return ready(last) ? last : undefined;
    }, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}; the page showed ${JSON.stringify(last)}`);
  }
}

const cardsOf = (view: DashboardView, service: string) => view.nodes.flatMap((n) => n.cards.filter((c) => c.service === service).map((c) => ({ ...c, node: n.node })));
const node = (view: DashboardView, hostname: string) => view.nodes.find((n) => n.node === hostname);

/** Opens the dashboard and waits for its first snapshot to be drawn. */
async function openDashboard(page: Page, url: string): Promise<DashboardView> {
  await page.goto(url);
  return waitForDashboard(page, 'the dashboard to connect', (view) => view.connected === 'true', 10_000);
}

const browser = await testBrowser(t);

t.test('the dashboard in a browser', browser.options, async (t) => {
  // node3 is Down 1.5 s after it fails (3 missed heartbeats); at 100 ms, a machine busy with Chromium missed
  // some of the live nodes' too, and their tasks moved.
  const cluster = await testCluster(t, B, { ...BLOCKS, heartbeatPeriodMs: 500 });
  const manager = cluster.nodes[0]!.apiUrl;
  const dashboard = `${manager}/ui/`;
  const hostnames = new Map(cluster.nodes.map((n) => [n.nodeId, n.hostname]));
  /** Where the API says each running task is, as the page should show it. */
  const placement = (tasks: any[]) => tasks.map((task) => `${hostnames.get(task.NodeID)} ${task.ID}`).sort();
  const shownPlacement = (view: DashboardView) => cardsOf(view, 'my-web').map((c) => `${c.node} ${c.task}`).sort();

  // The demo's service, as `routemesh up --demo` creates it.
  const created = await api(manager, 'POST', '/services/create', serviceSpec('my-web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 6 } }, ...published(80, 8080) }));
  t.equal(created.status, 201, 'my-web created', { body: created.body });
  const demo = await waitForRunning(manager, 'my-web', 6);

  await t.test('the demo: three nodes, six my-web cards where their tasks run, 6/6', async (t) => {
    const page = await browser.page(t);
    await openDashboard(page, dashboard);
    const view = await waitForDashboard(page, 'six my-web cards', (v) => cardsOf(v, 'my-web').length === 6);
    t.same(view.nodes.map((n) => [n.node, n.state, n.role, n.availability, n.leader]).sort(), [
      ['node1', 'ready', 'manager', 'active', 'true'],
      ['node2', 'ready', 'worker', 'active', 'false'],
      ['node3', 'ready', 'worker', 'active', 'false'],
    ], 'a section per node, with its state, role, availability and leadership');
    t.same(shownPlacement(view), placement(demo), 'each task\'s card in its node\'s section');
    t.equal(view.cardCount, 6, 'no card outside a node\'s section');
    for (const task of demo) {
      const card = cardsOf(view, 'my-web').find((c) => c.task === task.ID)!;
      const says = [`my-web.${task.Slot}`, 'traefik/whoami', 'running', `${task.Endpoint.Addr}:${task.Endpoint.Ports[0].ListenPort}`];
      t.same([card.slot, card.state], [String(task.Slot), 'running'], `my-web.${task.Slot}'s card: its slot and state`);
      t.same(says.filter((shown) => !card.text.includes(shown)), [], `my-web.${task.Slot}'s card says ${says.join(', ')}`);
    }
    t.same(view.services, [{ service: 'my-web', running: '6', desired: '6' }], 'the services table: my-web 6/6');
    t.comment(`screenshot of the demo: ${await screenshotIfAsked(page, 'demo')}`);
  });

  await t.test('60 connections through node1: node1\'s bars show 10 for each of the six tasks', async (t) => {
    await Promise.all(demo.map((task) => waitFor(`${task.Name} to answer`, () => httpGet(task.Endpoint.Addr, task.Endpoint.Ports[0].ListenPort).then(() => true, () => undefined))));
    const page = await browser.page(t);
    await openDashboard(page, dashboard);
    const ids = demo.map((task) => task.ID).sort();
    const poolState = (v: DashboardView, hostname: string) => v.pools.filter((p) => p.node === hostname);
    const before = await waitForDashboard(page, 'every node\'s pool of my-web to serve the six', (v) => v.meshService === 'my-web' &&
      cluster.nodes.every((n) => poolState(v, n.hostname).filter((p) => p.state === 'serving').map((p) => p.task).sort().join() === ids.join()));
    /** A node's bars, by task ID in ID order (so two compare as text). */
    const barsOf = (v: DashboardView, hostname: string) => Object.fromEntries(v.bars.filter((b) => b.node === hostname).map((b) => [b.task, b.count]).sort());
    const plus = (counts: Record<string, number>, n: number) => Object.fromEntries(ids.map((id) => [id, (counts[id] ?? 0) + n]));
    const node1Before = barsOf(before, 'node1');
    const allBefore = barsOf(before, 'all nodes');

    for (let i = 0; i < 60; i++) await httpGet(cluster.nodes[0]!.address, 8080);
    const after = await waitForDashboard(page, 'node1\'s bars to show the 60', (v) => JSON.stringify(barsOf(v, 'node1')) === JSON.stringify(plus(node1Before, 10)));
    t.same(barsOf(after, 'node1'), plus(node1Before, 10), 'round robin: 10 more for each task, exactly');
    t.same(barsOf(after, 'all nodes'), plus(allBefore, 10), 'and the cluster-wide bars the same 10 each');
    t.same(barsOf(after, 'node2'), barsOf(before, 'node2'), 'node2\'s bars unmoved: none came through it');
    t.comment(`screenshot of the bars: ${await screenshotIfAsked(page, 'distribution')}`);
  });

  await t.test('scaled to 3, the page shows 3 cards within 2 s, without reloading', async (t) => {
    const page = await browser.page(t);
    await openDashboard(page, dashboard);
    await waitForDashboard(page, 'six my-web cards', (v) => cardsOf(v, 'my-web').length === 6);
    await page.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true; });

    const { body: service } = await api(manager, 'GET', '/services/my-web');
    const spec = { ...service.Spec, Mode: { Replicated: { Replicas: 3 } } };
    t.equal((await api(manager, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`, spec)).status, 200, 'scaled to 3');
    const view = await waitForDashboard(page, 'three my-web cards', (v) => cardsOf(v, 'my-web').length === 3);
    t.ok(cardsOf(view, 'my-web').every((c) => demo.some((task) => task.ID === c.task)), 'the cards left are tasks of the six');
    await waitForDashboard(page, 'the services table to say 3/3', (v) => v.services.some((s) => s.service === 'my-web' && s.running === '3' && s.desired === '3'));
    await waitForDashboard(page, 'the scale on the timeline, and the three tasks it stopped', (v) => v.timeline.some((line) => line.endsWith(' service my-web scaled from 6 to 3')) &&
      v.timeline.filter((line) => / task my-web\.\d+ stopped on node\d$/.test(line)).length === 3);
    t.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page never reloaded');
  });

  await t.test('a fault injected from the page: listed, marked in the grid, on the timeline; refused ones say why; lifted by its button', async (t) => {
    const page = await browser.page(t);
    await openDashboard(page, `${dashboard}#my-web`);
    await page.selectOption('#fault-form select[name="Kind"]', 'latency');
    await page.fill('#fault-form input[name="target"]', 'my-web');
    await page.click('#fault-form button[type="submit"]');
    await waitForDashboard(page, 'the refusal of a latency without its amount', (v) => v.faultError.includes('a latency fault needs Latency'));
    await page.fill('#fault-form input[name="amount"]', '100ms');
    await page.click('#fault-form button[type="submit"]');
    const injected = await waitForDashboard(page, 'the fault listed, in node1\'s pool and on the timeline', (v) =>
      v.faults.length === 1 && v.pools.some((p) => p.node === 'node1' && p.fault === 'latencyMs') &&
      v.timeline.some((line) => line.endsWith(' fault latency (100ms) on my-web injected')));
    t.match(injected.faults[0], { kind: 'latency', text: /^latencymy-web100mswhen liftedLift$/ }, 'kind, where, what, until when');
    t.ok(injected.pools.every((p) => p.fault === 'latencyMs'), 'every node marks every task of my-web');
    t.equal(injected.faultError, '', 'the refusal is gone');
    t.equal((await api(manager, 'GET', '/routemesh/faults')).body.length, 1, 'the API lists it');
    await page.click('#fault-list button');
    await waitForDashboard(page, 'the fault lifted', (v) => v.faults.length === 0 && v.pools.every((p) => p.fault === '') &&
      v.timeline.some((line) => line.endsWith(' fault latency (100ms) on my-web lifted')));
    t.same((await api(manager, 'GET', '/routemesh/faults')).body, [], 'gone from the API');
  });

  await t.test('node fail node3: the page shows it down, and its task replaced on node1 and node2', async (t) => {
    const page = await browser.page(t);
    await openDashboard(page, dashboard);
    const before = await waitForDashboard(page, 'three my-web cards', (v) => cardsOf(v, 'my-web').length === 3);
    const lost = node(before, 'node3')?.cards.filter((c) => c.service === 'my-web') ?? [];
    t.ok(lost.length, 'node3 runs some of the three (else there is nothing to replace)');

    t.equal((await api(manager, 'POST', '/routemesh/nodes/node3/fail')).status, 200, 'as `routemesh node fail node3` does it');
    await waitFor('the managers to mark node3 down', async () => (await api(manager, 'GET', '/nodes/node3')).body.Status.State === 'down');
    await waitForDashboard(page, 'node3 to show down, on the timeline too', (v) => node(v, 'node3')?.state === 'down' && v.timeline.some((line) => line.endsWith(' node node3 is down')));

    const replaced = await waitFor('Swarm to replace node3\'s task', async () => {
      const { body: tasks } = await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { 'my-web': true } }))}`);
      const desired = tasks.filter((task) => task.DesiredState === 'running');
      const done = desired.length === 3 && desired.every((task) => task.Status.State === 'running' && hostnames.get(task.NodeID) !== 'node3');
      return done ? desired : undefined;
    });
    const view = await waitForDashboard(page, 'the replacement\'s card, running', (v) =>
      shownPlacement(v).join() === placement(replaced).join() && cardsOf(v, 'my-web').every((c) => c.state === 'running'));
    t.same(shownPlacement(view), placement(replaced), 'three cards on node1 and node2, where the API says the tasks run');
    t.notOk(node(view, 'node3')?.cards.length, 'node3\'s section holds no card');
    t.notOk(cardsOf(view, 'my-web').some((c) => lost.some((gone) => gone.task === c.task)), 'node3\'s tasks are gone from the page');
    const started = replaced.filter((task) => !before.nodes.some((n) => n.cards.some((c) => c.task === task.ID)));
    await waitForDashboard(page, 'the replacement\'s start on the timeline, naming what it replaced', (v) => started.every((task) =>
      v.timeline.some((line) => line.endsWith(` task my-web.${task.Slot} started on ${hostnames.get(task.NodeID)}, replacing the one on node3`))));
    t.comment(`screenshot after node3 failed: ${await screenshotIfAsked(page, 'node3-failed')}`);
  });

  await t.test('a task answering 500 is ejected by node1: the grid shows it ejected there and served by node2, and the timeline says so', async (t) => {
    const labels = { 'routemesh.lb.mode': 'http', 'routemesh.lb.outlier.consecutive-failures': '3', 'routemesh.lb.outlier.base-ejection': '1m' };
    const spec = serviceSpec('failing', 'routemesh/exec', {
      Labels: labels, Mode: { Replicated: { Replicas: 3 } }, ...published(8080, 9304),
      TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Command: [process.execPath], Args: ['-e', FAILING_SERVER] } },
    });
    t.equal((await api(manager, 'POST', '/services/create', spec)).status, 201, 'failing created');
    const tasks = await waitForRunning(manager, 'failing', 3);
    await Promise.all(tasks.map((task) => waitFor(`${task.Name} to listen`, () => httpGet(task.Endpoint.Addr, 8080).then(() => true, () => undefined))));
    const bad = tasks.find((task) => task.Slot === 2)!;

    const page = await browser.page(t);
    await page.goto(`${dashboard}#failing`);
    const live = ['node1', 'node2'];
    await waitForDashboard(page, 'node1\'s and node2\'s pools of failing to serve the three', (v) => v.connected === 'true' && v.meshService === 'failing' &&
      live.every((hostname) => v.pools.filter((p) => p.node === hostname && p.state === 'serving').length === 3), 10_000);
    for (let i = 0; i < 12; i++) await httpGet(cluster.nodes[0]!.address, 9304);

    const view = await waitForDashboard(page, 'the ejection in the grid and on the timeline', (v) =>
      v.pools.some((p) => p.node === 'node1' && p.task === bad.ID && p.state === 'ejected') &&
      v.timeline.some((line) => line.endsWith(' task failing.2 ejected by node1 from its pool of failing:8080, for 60s (ejection 1)')));
    const cells = Object.fromEntries(view.pools.filter((p) => p.task === bad.ID).map((p) => [p.node, p.state]));
    t.same(cells, { node1: 'ejected', node2: 'serving', node3: 'down' }, 'failing.2: ejected by node1, still served by node2 (node3 is down)');
    t.same(view.pools.filter((p) => p.node === 'node1' && p.task !== bad.ID).map((p) => p.state), ['serving', 'serving'], 'node1 serves the other two');
    t.comment(`screenshot of the ejection: ${await screenshotIfAsked(page, 'ejection')}`);
  });
});

/** Answers every request with its task's name: 500 in slot 2, 200 elsewhere. */
const FAILING_SERVER = `
  const { HOST, PORT, TASK_NAME, TASK_SLOT } = process.env;
  require('node:http').createServer((q, s) => { s.statusCode = TASK_SLOT === '2' ? 500 : 200; s.end(TASK_NAME); }).listen(Number(PORT), HOST);
`;

