// The order the scenarios run in: every round runs each scenario once, and the order turns from round
// to round so that no route always runs first or last among the runs it is compared with.
import { ROUTES } from './table.js';
import type { ConnectionMode, Route } from './table.js';

export interface Scenario {
  route: Route;
  mode: ConnectionMode;
}

/**
 * The routes each mode runs. One connection is for the latency a proxy adds when it waits on nothing
 * else: the tcp routes against the task and their peers.
 */
const MODE_ROUTES: readonly [ConnectionMode, readonly Route[]][] = [
  ['keep-alive', ROUTES],
  ['new per request', ROUTES],
  ['one connection', ['direct', 'same node', 'haproxy tcp', 'nginx stream']],
];

/** Round 1's order, which is also the report's: keep-alive, new per request, one connection; routes in ROUTES' order. */
export const SCENARIOS: readonly Scenario[] = MODE_ROUTES.flatMap(([mode, routes]) => routes.map((route) => ({ route, mode })));

/**
 * Each round runs the keep-alive block, then the new-connection block, then the one-connection block, and
 * within each block the routes (those `available`: a peer may not be installed)
 * turn by one place a round: no route holds the same place in two rounds (while there are no more rounds than
 * routes in the block: 4 at one connection). A slow start, a slow-down
 * late in a round or a noisy neighbour then lands on one round of each, and the median of the three
 * leaves it out.
 *
 * The modes run in blocks rather than alternating because a new-connection run leaves the cluster
 * process thousands of closed sockets and their garbage: when the modes alternated, a keep-alive run
 * straight after a mesh new-connection run tended to come out low, and the rotation kept handing that
 * place to the same route. In blocks only a round's first keep-alive and first one-connection runs
 * follow one, a different route each round.
 */
export function roundOrders(rounds: number, available: (route: Route) => boolean = () => true): Scenario[][] {
  return Array.from({ length: rounds }, (_, r) =>
    MODE_ROUTES.flatMap(([mode, all]) => {
      const routes = all.filter(available);
      return routes.map((_, i) => scenario(routes[(i + r) % routes.length]!, mode));
    }));
}

/** The SCENARIOS entry itself, so that orders can be compared by identity. */
function scenario(route: Route, mode: ConnectionMode): Scenario {
  return SCENARIOS.find((s) => s.route === route && s.mode === mode)!;
}
