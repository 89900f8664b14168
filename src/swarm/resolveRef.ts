// Swarm's lookup of one object by what a user types (`docker service inspect web`, `docker node ls` then an ID
// prefix): the one order every kind but networks follows, for the leader's control plane and a follower's copy alike.
import { SwarmError, notFound } from './errors.js';

/** Full ID, then exact name (any of `names`), then unique ID prefix; ambiguity and absence are refused with Swarm's words. */
export function resolveRef<T extends { ID: string }>(kind: string, all: readonly T[], ref: string, names: (o: T) => (string | undefined)[]): T {
  const byId = all.find((o) => o.ID === ref);
  if (byId) return byId;
  const byName = all.filter((o) => names(o).includes(ref));
  if (byName.length === 1) return byName[0]!;
  const byPrefix = ref ? all.filter((o) => o.ID.startsWith(ref)) : [];
  if (byPrefix.length === 1) return byPrefix[0]!;
  if (byName.length > 1 || byPrefix.length > 1) {
    throw new SwarmError('invalid_argument', `${kind} ${ref} is ambiguous (${Math.max(byName.length, byPrefix.length)} matches found)`);
  }
  throw notFound(kind, ref);
}
