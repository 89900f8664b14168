// The control plane's side of an injected partition (`routemesh fault add partition --between a,b`): a
// manager node closes its cluster port to the nodes a partition cuts it off from, so their sessions end,
// their beats stop reaching it (the leader marks them Down) and their pings go unanswered. The data plane's
// side is each mesh's (MeshFaults). Both ends of a partition read it from their own view; each cuts what
// reaches it, so a removal that reaches either end heals that end, and the other follows once its link is back.
import { realTimer } from '../swarm/index.js';
import type { ClusterView, StoreChange, Timer } from '../swarm/index.js';

export class PartitionCuts {
  readonly #view: ClusterView;
  readonly #nodeId: string;
  readonly #apply: (addresses: ReadonlySet<string>) => void;
  #key = '';
  #expiry: Timer | undefined;
  readonly #onChange = (change: StoreChange): void => {
    if (change.kind === 'fault' || change.kind === 'node') this.refresh();
  };

  /** `apply` is given each new set of addresses to cut (an empty one heals). */
  constructor(view: ClusterView, nodeId: string, apply: (addresses: ReadonlySet<string>) => void) {
    this.#view = view;
    this.#nodeId = nodeId;
    this.#apply = apply;
    view.on('change', this.#onChange);
  }

  /** Works the set out again from the view, and applies it if it changed (or `force`: a new cluster port to tell). */
  refresh(force = false): void {
    const now = Date.now();
    const addresses = new Set<string>();
    let soonest = Infinity;
    for (const fault of this.#view.all('fault')) {
      const { Kind, Target, ExpiresAt } = fault.Spec;
      if (Kind !== 'partition' || !Target.Between) continue;
      const expires = ExpiresAt ? Date.parse(ExpiresAt) : Infinity;
      if (expires <= now) continue;
      const [a, b] = Target.Between;
      const other = a.ID === this.#nodeId ? b.ID : b.ID === this.#nodeId ? a.ID : undefined;
      const address = other && this.#view.nodes().find((n) => n.ID === other)?.Status.Addr;
      if (!address) continue;
      addresses.add(address);
      soonest = Math.min(soonest, expires);
    }
    this.#expiry?.cancel();
    // realTimer: a partition may last longer than setTimeout can wait, which would fire at once, again and again.
    this.#expiry = soonest === Infinity ? undefined : realTimer(() => this.refresh(), soonest - now);
    const key = [...addresses].sort().join(',');
    if (key === this.#key && !force) return;
    this.#key = key;
    this.#apply(addresses);
  }

  close(): void {
    this.#expiry?.cancel();
    this.#view.off('change', this.#onChange);
  }
}
