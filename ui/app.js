// The dashboard: the cluster as this manager sees it, drawn from its event stream (/ui/events): a snapshot,
// then batches of changed nodes, services and tasks, and of every node's pools as that node balances them.
// EventSource reconnects by itself and resumes after the last batch it had (Last-Event-ID); the page never
// reloads. It sends nothing back but the faults it is asked to inject or lift (POST and DELETE
// /routemesh/faults, from this page's own origin, which the engine API takes).

const state = {
  nodes: new Map(), services: new Map(), tasks: new Map(), faults: new Map(), order: { nodes: [], services: [] }, timeline: [],
  /** Each node's pools as it last read them (by node ID), and the service whose pools are shown. */
  mesh: new Map(), meshService: serviceInAddress(),
};
/** Worst first: a task a node's pools disagree on is shown by its worst state. */
const MEMBER_STATES = ['ejected', 'unhealthy', 'draining', 'serving'];
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
  state.faults = new Map(snapshot.faults.map((fault) => [fault.id, fault]));
  state.order = { nodes: snapshot.nodes.map((node) => node.id), services: snapshot.services.map((service) => service.id) };
  state.timeline = snapshot.timeline;
  state.mesh = new Map(snapshot.mesh.map((mesh) => [mesh.nodeId, mesh]));
  draw();
  connected(true);
});
events.addEventListener('changes', (event) => {
  const batch = JSON.parse(event.data);
  for (const change of batch.changes) {
    const objects = state[`${change.kind}s`];
    if (change.op === 'put') objects.set(change.object.id, change.object);
    else objects.delete(change.id);
    if (change.kind === 'node' && change.op === 'delete') state.mesh.delete(change.id);
  }
  for (const mesh of batch.mesh) state.mesh.set(mesh.nodeId, mesh);
  state.order = batch.order;
  state.timeline = [...state.timeline, ...batch.timeline].slice(-SHOWN_EVENTS);
  // Only what the batch touched is drawn again: the pools change every read while traffic flows.
  if (batch.changes.length) {
    drawSafely(drawNodes);
    drawSafely(drawServices);
    drawSafely(drawFaults);
  }
  if (batch.changes.length || batch.mesh.length) drawSafely(drawMesh);
  if (batch.timeline.length) drawSafely(drawTimeline);
  connected(main.dataset.connected === 'true');
});
document.getElementById('fault-form').addEventListener('submit', (event) => {
  event.preventDefault();
  injectFault(new FormData(event.target)).catch((error) => { document.getElementById('fault-error').value = error.message; });
});
document.getElementById('mesh-service').addEventListener('change', (event) => {
  state.meshService = event.target.value;
  history.replaceState(null, '', `#${encodeURIComponent(state.meshService)}`);
  drawMesh();
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

/** The service the page's address names (`#my-web`); a malformed one names none. */
function serviceInAddress() {
  try {
    return decodeURIComponent(location.hash.slice(1));
  } catch {
    return '';
  }
}

/** Each part of the page is drawn by itself: one that fails is said, and the others are still drawn. */
function drawSafely(part) {
  try {
    part();
  } catch (error) {
    console.error(`the dashboard could not draw ${part.name}:`, error);
  }
}

function draw() {
  drawn = true;
  drawSafely(drawNodes);
  drawSafely(drawServices);
  drawSafely(drawFaults);
  drawSafely(drawMesh);
  drawSafely(drawTimeline);
  if (main.dataset.connected === 'true') connected(true);
}

/** Which field a kind's amount fills in the API's request. */
const AMOUNT_FIELD = { latency: 'Latency', bandwidth: 'Rate', reset: 'After', loss: 'Percent', duplicate: 'Percent', 'slow-connect': 'Delay' };

async function injectFault(form) {
  const kind = form.get('Kind');
  const target = form.get('target').trim();
  const amount = form.get('amount').trim();
  const request = { Kind: kind, [form.get('on')]: form.get('on') === 'Between' ? target.split(',').map((node) => node.trim()) : target };
  if (form.get('From').trim()) request.From = form.get('From').trim();
  if (amount && AMOUNT_FIELD[kind]) request[AMOUNT_FIELD[kind]] = AMOUNT_FIELD[kind] === 'Percent' ? Number(amount.replace(/%$/, '')) : amount;
  if (form.get('Duration').trim()) request.Duration = form.get('Duration').trim();
  await faultRequest('POST', '/routemesh/faults', request);
  document.getElementById('fault-error').value = '';
}

/** The engine API's answer, or its message as an Error. */
async function faultRequest(method, path, body) {
  const response = await fetch(path, { method, ...(body ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  if (!response.ok) throw new Error((await response.json().catch(() => undefined))?.message ?? `${method} ${path}: ${response.status}`);
}

function drawFaults() {
  const rows = [...state.faults.values()].map((fault) => {
    const lift = element('button', { type: 'button', 'data-fault': fault.id }, 'Lift');
    lift.addEventListener('click', () => faultRequest('DELETE', `/routemesh/faults/${fault.id}`).catch((error) => { document.getElementById('fault-error').value = error.message; }));
    return element('tr', { 'data-fault': fault.id, 'data-kind': fault.kind },
      element('td', {}, fault.kind), element('td', {}, fault.on), element('td', {}, fault.effect),
      element('td', {}, fault.expiresAt ? new Date(fault.expiresAt).toLocaleTimeString() : 'when lifted'), element('td', {}, lift));
  });
  document.querySelector('#fault-list tbody').replaceChildren(...rows);
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
  card.append(element('strong', {}, taskName(task, serviceName)), document.createElement('br'), `${task.image} · `,
    element('span', { class: 'state' }, task.state));
  if (task.health) card.append(' · ', element('span', { class: `health-${task.health}` }, task.health));
  const where = task.endpoints?.join(', ') ?? task.address;
  if (where) card.append(document.createElement('br'), where);
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
      element('td', { class: 'image' }, service.image),
      element('td', {}, service.ports.map((p) => `*:${p.published}->${p.target}/${p.protocol}`).join(', ')),
      element('td', {}, service.vips.join(', ')),
      element('td', {}, Object.entries(service.balancing).map(([key, value]) => `${key.slice('routemesh.lb.'.length)}=${value}`).join(', ')),
    );
    return [row];
  });
  document.querySelector('#services tbody').replaceChildren(...rows);
}

/** The pools of the chosen service: a node x task grid of states, and each node's bars beside the fair share. */
function drawMesh() {
  const services = state.order.services.map((id) => state.services.get(id)).filter((service) => service && poolsOf(service.id).length);
  const chosen = services.find((service) => service.name === state.meshService) ?? services[0];
  const select = document.getElementById('mesh-service');
  // Made again only when the services change: an open list must not close under the user every read.
  const names = services.map((service) => service.name);
  if (select.dataset.services !== names.join('\n')) {
    select.dataset.services = names.join('\n');
    select.replaceChildren(...names.map((name) => element('option', { value: name }, name)));
  }
  select.value = chosen?.name ?? '';
  const nodes = state.order.nodes.map((id) => state.nodes.get(id)).filter(Boolean);
  const tasks = chosen ? meshTasks(chosen) : [];
  const head = element('tr', {}, element('th', { scope: 'col' }, 'Task'),
    ...nodes.map((node) => element('th', { scope: 'col', 'data-node': node.hostname, title: nodeMeshError(node) ?? '' }, node.hostname)));
  document.querySelector('#pools thead').replaceChildren(head);
  document.querySelector('#pools tbody').replaceChildren(...tasks.map((task) => element('tr', { 'data-task': task.id },
    element('th', { scope: 'row' }, task.name),
    ...nodes.map((node) => poolCell(node, chosen, task)))));
  // A node with no read pools (down, or not answering) has no bars: the grid says why.
  const read = nodes.filter((node) => state.mesh.get(node.id)?.report);
  const figures = chosen ? [...read.map((node) => distribution(chosen, tasks, [node], node.hostname)), distribution(chosen, tasks, read, 'all nodes')] : [];
  document.getElementById('distribution').replaceChildren(...figures);
}

/** The service's pools in `node`'s last read (a published port and a VIP share one; a service may have several ports). */
function poolsOf(serviceId, node) {
  const reads = node ? [state.mesh.get(node.id)] : [...state.nodes.keys()].map((id) => state.mesh.get(id));
  return reads.flatMap((mesh) => mesh?.report?.pools.filter((pool) => pool.serviceId === serviceId) ?? []);
}

function nodeMeshError(node) {
  const mesh = state.mesh.get(node.id);
  return mesh ? mesh.error : 'not read yet';
}

/** The service's tasks a pool holds, or that run: one a node has not yet taken in shows as such. */
function meshTasks(service) {
  const tasks = new Map();
  for (const task of state.tasks.values()) {
    if (task.serviceId === service.id && task.state === 'running') tasks.set(task.id, { id: task.id, name: taskName(task, service.name), slot: task.slot });
  }
  for (const pool of poolsOf(service.id)) {
    for (const member of pool.members) {
      if (tasks.has(member.task)) continue;
      const task = state.tasks.get(member.task);
      tasks.set(member.task, { id: member.task, name: task ? taskName(task, service.name) : member.name.replace(/\.[^.]+$/, ''), slot: task?.slot });
    }
  }
  return [...tasks.values()].sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0) || a.name.localeCompare(b.name));
}

/** `service.slot`, or in a global service `service.hostname`, as the timeline names a task. */
function taskName(task, serviceName) {
  const node = state.nodes.get(task.nodeId);
  return task.slot === undefined ? `${serviceName}.${node?.hostname ?? task.nodeId.slice(0, 6)}` : `${serviceName}.${task.slot}`;
}

/** The members that are `task` in `node`'s pools of `service`. */
function membersOf(node, service, task) {
  return poolsOf(service.id, node).flatMap((pool) => pool.members.filter((member) => member.task === task.id));
}

function poolCell(node, service, task) {
  const error = node.state === 'down' ? 'down' : state.mesh.get(node.id)?.report ? undefined : 'unknown';
  const members = error ? [] : membersOf(node, service, task);
  const memberState = error ?? MEMBER_STATES.find((s) => members.some((member) => member.state === s)) ?? 'absent';
  const cell = element('td', { class: 'member', 'data-node': node.hostname, 'data-task': task.id, 'data-state': memberState });
  const words = { absent: 'not in its pool', unknown: 'not read', down: 'node down' };
  cell.append(words[memberState] ?? memberState);
  const ejected = members.find((member) => member.ejectedForMs !== undefined);
  if (ejected) cell.append(` · back in ${Math.ceil(ejected.ejectedForMs / 1000)}s`);
  const open = members.reduce((sum, member) => sum + member.active, 0);
  if (open) cell.append(` · ${open} open`);
  const faulty = members.find((member) => member.fault);
  if (faulty) {
    cell.dataset.fault = Object.keys(faulty.fault).join(' ');
    cell.append(` · fault: ${Object.entries(faulty.fault).map(([key, value]) => (value === true ? key : `${key} ${value}`)).join(', ')}`);
  }
  cell.title = error === 'unknown' ? nodeMeshError(node) ?? '' : members.map((m) => `${m.address}: ${m.total} in all, ${m.ejections} ejections`).join('\n');
  return cell;
}

/**
 * What `nodes` handed each task of the service in the last minute, as bars beside the fair share: the total
 * split by weight among the members that serve now or were handed some within the minute (round robin's
 * promise; least-conn and p2c aim near it). A task ejected for part of the minute falls short of it; one
 * long out of rotation (draining since before the minute) takes no share.
 */
function distribution(service, tasks, nodes, label) {
  const pools = nodes.flatMap((node) => poolsOf(service.id, node));
  const members = pools.flatMap((pool) => pool.members);
  const counts = new Map(tasks.map((task) => [task.id, members.filter((m) => m.task === task.id).reduce((sum, m) => sum + m.recent, 0)]));
  const total = [...counts.values()].reduce((sum, count) => sum + count, 0);
  const weights = new Map();
  for (const member of members) if (member.state === 'serving' || member.recent > 0) weights.set(member.task, member.weight);
  const weightSum = [...weights.values()].reduce((sum, weight) => sum + weight, 0);
  const fairOf = (task) => (weightSum ? (total * (weights.get(task.id) ?? 0)) / weightSum : 0);
  const most = Math.max(1, ...counts.values(), ...tasks.map(fairOf));
  const unit = [...new Set(pools.map((pool) => pool.counts))].join(' and ') || 'connections';
  const even = weightSum && [...weights.values()].every((weight) => weight === weights.values().next().value);
  const figure = element('figure', { class: 'distribution', 'data-node': label, 'data-total': String(total) },
    element('figcaption', {}, `${label}: ${total} ${total === 1 ? unit.replace(/s\b/g, '') : unit}${even && total ? ` · fair share ${round(total / weights.size)} each` : ''}`));
  for (const task of tasks) {
    const count = counts.get(task.id);
    const fair = fairOf(task);
    const meter = element('span', { class: 'meter' }, element('span', { class: 'fill' }), element('span', { class: 'fair', title: `fair share ${round(fair)}` }));
    meter.firstChild.style.width = `${(count / most) * 100}%`;
    meter.lastChild.style.left = `${(fair / most) * 100}%`;
    meter.style.setProperty('--service-colour', colourOf(service.name));
    figure.append(element('div', { class: 'bar', 'data-task': task.id, 'data-count': String(count), 'data-fair': String(round(fair)) },
      element('span', { class: 'name' }, task.name), meter, element('span', { class: 'count' }, String(count))));
  }
  return figure;
}

function round(n) {
  return Math.round(n * 10) / 10;
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
