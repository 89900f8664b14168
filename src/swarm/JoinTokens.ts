// Join tokens in Swarm's format, SWMTKN-1-<50 base-36: CA digest>-<25 base-36: secret>; the worker
// and manager tokens share the digest part, the root CA's (RootCA.joinTokenDigest). A token names the
// role a joining node gets.
import { timingSafeEqual } from 'node:crypto';
import type { NodeRole } from './model.js';
import type { SwarmState } from './SwarmState.js';
import { joinTokenDigestOf } from './RootCA.js';
import { randomBase36 } from './ids.js';

const FORMAT = /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/;

export class JoinTokens {
  readonly #digest: string;
  #secrets: Record<NodeRole, string>;

  /** New secrets, or a restored swarm's (the 25-character parts of its tokens). */
  constructor(caDigest: string, secrets?: Record<NodeRole, string>) {
    this.#digest = caDigest;
    this.#secrets = secrets ? { ...secrets } : { worker: randomBase36(25), manager: randomBase36(25) };
  }

  /** The secret parts, for the swarm's data directory. */
  get secrets(): Record<NodeRole, string> {
    return { ...this.#secrets };
  }

  token(role: NodeRole): string {
    return joinToken(this.#digest, this.#secrets[role]);
  }

  rotate(role: NodeRole): void {
    this.#secrets[role] = randomBase36(25);
  }

  /** The role a token grants; 'malformed' and 'invalid' tell the two refusals apart. */
  roleOf(token: string): NodeRole | 'malformed' | 'invalid' {
    if (!FORMAT.test(token)) return 'malformed';
    for (const role of ['worker', 'manager'] as const) {
      const expected = Buffer.from(this.token(role));
      const given = Buffer.from(token);
      if (expected.length === given.length && timingSafeEqual(expected, given)) return role;
    }
    return 'invalid';
  }
}

function joinToken(caDigest: string, secret: string): string {
  return `SWMTKN-1-${caDigest}-${secret}`;
}

/** The join tokens GET /swarm shows, from the swarm's record (its CA certificate and token secrets). */
export function joinTokensOf(swarm: SwarmState['swarm']): { Worker: string; Manager: string } {
  const digest = joinTokenDigestOf(swarm.rootCA.certificatePem);
  return { Worker: joinToken(digest, swarm.tokens.worker), Manager: joinToken(digest, swarm.tokens.manager) };
}
