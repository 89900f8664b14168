// Small text rules of the docker CLI that several tables share: how a state is capitalised, how IDs,
// errors and image references are shortened. Kept together so every view words things alike.

/** docker's command.PrettyPrint: first letter upper-cased, the rest lower-cased ("Running", "Rollback_completed"). */
export function prettyPrint(value: string | undefined): string {
  if (value === undefined || value === '') return '';
  if (value.length === 1) return value.toUpperCase();
  return value[0]!.toUpperCase() + value.slice(1).toLowerCase();
}

/** stringid.TruncateID: the first 12 characters. */
export function truncateId(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}

/** formatter.Ellipsis: cut to `max` characters, the last one an ellipsis. */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  return chars.slice(0, max - 1).join('') + '…';
}

/** Drops the digest of a tagged image ("nginx:1.25@sha256:…" → "nginx:1.25"), as `service ls` and `ps` show it. */
export function imageWithoutDigest(image: string): string {
  const at = image.indexOf('@');
  if (at === -1) return familiar(image);
  const named = image.slice(0, at);
  // Only a reference with a tag loses its digest; "nginx@sha256:…" is shown whole.
  return hasTag(named) ? familiar(named) : image;
}

/** Adds ":latest" when no tag or digest is given, as the docker CLI's image resolution does. */
export function withDefaultTag(image: string): string {
  if (image.includes('@') || hasTag(image)) return image;
  return `${image}:latest`;
}

function hasTag(named: string): boolean {
  const lastSlash = named.lastIndexOf('/');
  return named.slice(lastSlash + 1).includes(':');
}

/** reference.FamiliarString: docker.io/library/ prefixes are not shown. */
function familiar(image: string): string {
  return image.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}
