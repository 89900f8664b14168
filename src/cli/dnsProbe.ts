// Where the embedded DNS server of node processes answers: --dns without a port means 53, or 10053 when
// 53 cannot be bound, and the node process that holds it is not `up`, so `up` asks rather than guesses.
import { Resolver } from 'node:dns/promises';

/** The ports a DNS address without one may end up on, in the engine's order of preference. */
const CANDIDATE_PORTS = [53, 10_053];

/**
 * The first port at `address` where a DNS server answers a question the cluster owns (the reverse name
 * of a VIP block address, answered at once, never forwarded); undefined when none answers.
 */
export async function dnsPortAnswering(address: string, ports: readonly number[], ownedAddress: string): Promise<number | undefined> {
  for (const port of ports.length ? ports : CANDIDATE_PORTS) {
    const resolver = new Resolver({ timeout: 300, tries: 1 });
    resolver.setServers([address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`]);
    try {
      await resolver.reverse(ownedAddress);
      return port;
    } catch (error) {
      // No such name is an answer; a refusal or silence is not.
      if ((error as NodeJS.ErrnoException).code === 'ENOTFOUND') return port;
    }
  }
  return undefined;
}
