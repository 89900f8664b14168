// Which events a `docker events --filter` takes, as moby's daemon/events/filter.go decides: each key
// given must match (any of its values), keys it does not know are ignored. `type`, `event` and `scope`
// are exact; `container`, `service`, `node`, `network`, `secret`, `config`, `volume`, `plugin` and
// `daemon` match the actor's ID or name by prefix; `image` the image (tag or not); `label` every
// `key[=value]` among the actor's attributes.
import type { EventMessage } from '../EventLog.js';
import type { Filters } from './filters.js';

/** Actions matched by prefix when named alone (moby #25798): `health_status` takes `health_status: healthy`. */
const PREFIXED_ACTIONS = ['health_status', 'exec_create', 'exec_start'];
/** Filter keys that match an actor's ID or `name` attribute by prefix. */
const NAMED = ['daemon', 'container', 'plugin', 'volume', 'network', 'node', 'service', 'secret', 'config'];

export function eventFilter(filters: Filters): (message: EventMessage) => boolean {
  const exact = (key: string, value: string): boolean => {
    const values = filters.get(key);
    return !values || values.length === 0 || values.includes(value);
  };
  const fuzzy = (key: string, value: string | undefined): boolean => {
    const values = filters.get(key);
    if (!values || values.length === 0) return true;
    return value !== undefined && values.some((v) => value.startsWith(v));
  };
  const prefixedEvent = filters.get('event')?.some((v) => PREFIXED_ACTIONS.includes(v)) ?? false;
  return (m) => {
    const { ID, Attributes } = m.Actor;
    const image = m.Type === 'image' ? Attributes.name : Attributes.image;
    return (prefixedEvent ? fuzzy('event', m.Action) : exact('event', m.Action))
      && exact('type', m.Type)
      && exact('scope', m.scope)
      && NAMED.every((key) => fuzzy(key, ID) || fuzzy(key, Attributes.name))
      && [ID, image, familiarName(ID), image && familiarName(image)].some((v) => v !== undefined && exact('image', v))
      && labelsMatch(filters.get('label'), Attributes);
  };
}

/** moby's MatchKVList: every `key` or `key=value` is among the attributes. */
function labelsMatch(wanted: readonly string[] | undefined, attributes: Record<string, string>): boolean {
  if (!wanted || wanted.length === 0) return true;
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    return attributes[key] !== undefined && (eq < 0 || attributes[key] === w.slice(eq + 1));
  });
}

/** An image reference without its tag, digest and default registry: `docker.io/library/nginx:1.27` is `nginx`. */
function familiarName(ref: string): string {
  const name = ref.split('@')[0]!;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const untagged = colon > slash ? name.slice(0, colon) : name;
  return untagged.replace(/^docker\.io\//, '').replace(/^library\//, '');
}
