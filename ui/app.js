// The dashboard: the cluster as this manager sees it, drawn from its event stream (/ui/events): a snapshot,
// then batches of changed nodes, services and tasks. EventSource reconnects by itself and resumes after the
// last batch it had (Last-Event-ID); the page never reloads. Read-only: it sends nothing back.

const state = { nodes: new Map(), services: new Map(), tasks: new Map(), order: { nodes: [], services: [] }, timeline: [] };
/** Timeline lines the page shows, newest first. */
const SHOWN_EVENTS = 50;
let drawn = false;
const main = document.getElementById('dashboard');
const status = document.getElementById('status');

const events = new EventSource('events');
events.addEventListener('snapshot', (event) => {
  const snapshot = JSON.parse(event.data);
  state.nodes = new Map(snapshot.nodes.map((node) => [node.id, node]));
  state.services = new Map(snapshot.services.map((service) => [service.id, service]));
  state.tasks = new Map(snapshot.tasks.map((task) => [task.id, task]));
  state.order = { nodes: snapshot.nodes.map((node) => node.id), services: snapshot.services.map((service) => service.id) };
  state.timeline = snapshot.timeline;
  draw();
  connected(true);
});
events.addEventListener('changes', (event) => {
  const batch = JSON.parse(event.data);
  for (const change of batch.changes) {
    const objects = state[`${change.kind}s`];
    if (change.op === 'put') objects.set(change.object.id, change.object);
    else objects.delete(change.id);
  }
  state.order = batch.order;
  state.timeline = [...state.timeline, ...batch.timeline].slice(-SHOWN_EVENTS);
  draw();
});
// Resumed without a snapshot (nothing missed, or only batches): drawn as it was.
events.addEventListener('open', () => { if (drawn) connected(true); });
events.addEventListener('error', () => connected(false));

function connected(yes) {
  main.dataset.connected = String(yes);
  status.textContent = yes ? `live: ${count(state.nodes.size, 'node')}, ${count(state.services.size, 'service')}` : 'reconnecting…';
}

function count(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function draw() {
  drawn = true;
  drawNodes();
  drawServices();
  drawTimeline();
  if (main.dataset.connected === 'true') connected(true);
}

function drawNodes() {
  const running = [...state.tasks.values()].filter((task) => task.desiredState === 'running');
  const sections = state.order.nodes.flatMap((id) => {
    const node = state.nodes.get(id);
    return node ? [nodeSection(node, running.filter((task) => task.nodeId === id))] : [];
  });
  document.getElementById('nodes').replaceChildren(...sections);
}

function nodeSection(node, tasks) {
  const section = element('section', { class: 'node', 'data-node': node.hostname, 'data-state': node.state,
    'data-role': node.role, 'data-availability': node.availability, 'data-leader': String(node.leader) });
  const role = node.leader ? 'Leader' : node.role;
  section.append(
    element('h3', {}, node.hostname),
    element('p', { class: 'facts' }, `${role} · ${node.state} · ${node.availability} · ${node.address}`),
  );
  const serviceName = (task) => state.services.get(task.serviceId)?.name ?? task.serviceId;
  tasks.sort((a, b) => serviceName(a).localeCompare(serviceName(b)) || (a.slot ?? 0) - (b.slot ?? 0));
  for (const task of tasks) section.append(taskCard(task, serviceName(task)));
  return section;
}

function taskCard(task, serviceName) {
  const card = element('article', { class: 'task', 'data-service': serviceName, 'data-task': task.id,
    'data-slot': String(task.slot ?? ''), 'data-state': task.state });
  card.style.setProperty('--service-colour', colourOf(serviceName));
  const name = task.slot === undefined ? `${serviceName}.${task.nodeId.slice(0, 6)}` : `${serviceName}.${task.slot}`;
  card.append(element('strong', {}, name), document.createElement('br'), `${task.image} · `,
    element('span', { class: 'state' }, task.state));
  if (task.health) card.append(' · ', element('span', { class: `health-${task.health}` }, task.health));
  if (task.address) card.append(document.createElement('br'), task.address);
  if (task.message) card.title = task.message;
  return card;
}

function drawServices() {
  const rows = state.order.services.flatMap((id) => {
    const service = state.services.get(id);
    if (!service) return [];
    const tasks = [...state.tasks.values()].filter((task) => task.serviceId === id && task.desiredState === 'running');
    const runningCount = tasks.filter((task) => task.state === 'running').length;
    const desired = service.mode === 'global' ? tasks.length : service.replicas;
    const row = element('tr', { class: 'service', 'data-service': service.name, 'data-running': String(runningCount), 'data-desired': String(desired) });
    const name = element('td', {}, element('span', { class: 'swatch' }), service.name);
    name.style.setProperty('--service-colour', colourOf(service.name));
    row.append(
      name,
      element('td', {}, service.mode),
      element('td', {}, `${runningCount}/${desired}`),
      element('td', {}, service.image),
      element('td', {}, service.ports.map((p) => `*:${p.published}->${p.target}/${p.protocol}`).join(', ')),
      element('td', {}, service.vips.join(', ')),
      element('td', {}, Object.entries(service.balancing).map(([key, value]) => `${key.slice('routemesh.lb.'.length)}=${value}`).join(', ')),
    );
    return [row];
  });
  document.querySelector('#services tbody').replaceChildren(...rows);
}

function drawTimeline() {
  const items = state.timeline.slice(-SHOWN_EVENTS).reverse().map((event) => {
    return element('li', { class: 'event', 'data-kind': event.kind, 'data-subject': event.subject },
      element('time', { datetime: event.at }, new Date(event.at).toLocaleTimeString()), ` ${event.text}`);
  });
  document.getElementById('timeline').replaceChildren(...items);
}

/** A colour per service, the same on every page and every reload; its name is always written beside it. */
function colourOf(name) {
  let hash = 2166136261; // FNV-1a, then the golden angle: names alike get hues far apart
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  return `hsl(${Math.round((hash % 1000) * 137.508) % 360} 60% 45%)`;
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}
