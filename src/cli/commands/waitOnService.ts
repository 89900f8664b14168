// Shared by create, update, scale and rollback: follow the service until it converges unless the user
// asked to --detach; --quiet still waits but shows nothing.
import type { CommandContext } from '../CommandContext.js';
import { ProgressDisplay, silentSink } from '../ProgressDisplay.js';
import { waitForConvergence } from '../progress.js';

export async function waitOnService(ctx: CommandContext, ref: string, quiet: boolean): Promise<void> {
  const out = quiet ? silentSink : new ProgressDisplay(ctx.io.stdout, ctx.io.isTTY, ctx.io.columns);
  await waitForConvergence(ctx.client(), ref, out, {
    pollMs: ctx.pollMs,
    defaultMonitorMs: ctx.defaultMonitorMs,
    onInterrupt: (listener) => ctx.onInterrupt(listener),
    psCommand: `routemesh service ps ${ref}`,
  });
}

export const DETACH_FLAGS = [
  { name: 'detach', short: 'd', kind: 'bool', help: 'Exit immediately instead of waiting for the service to converge' },
  { name: 'quiet', short: 'q', kind: 'bool', help: 'Suppress progress output' },
] as const;
