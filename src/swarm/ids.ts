// Identifiers in Swarm's formats: 25-character base-36 object IDs and SWMTKN join tokens.
import { randomBytes } from 'node:crypto';

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

export function randomBase36(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  // 252 = 7 * 36: rejecting bytes above it keeps every character equally likely.
  for (let i = 0; out.length < length; i++) {
    const b = i < bytes.length ? bytes[i]! : randomBytes(1)[0]!;
    if (b < 252) out += BASE36[b % 36];
  }
  return out;
}

export function newObjectId(): string {
  return randomBase36(25);
}

/** A node-local object's ID as dockerd makes one (a bridge network's): 64 lower-case hex characters. */
export function newLocalId(): string {
  return randomBytes(32).toString('hex');
}

/** A container-like hostname: 12 lower-case hex characters. */
export function newHostname(): string {
  return randomBytes(6).toString('hex');
}
