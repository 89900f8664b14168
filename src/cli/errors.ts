// The errors the CLI raises itself, each with a stable `code` and the exit status it maps to.
// Errors that come from an engine are EngineError (EngineClient.ts); main.ts prints both the same way.

export type CliErrorCode =
  | 'CLI_USAGE'          // bad flags or arguments: exit 2, like most Unix tools
  | 'CLI_FAILED'         // the command ran and failed (docker exits 1 for all of these)
  | 'CLI_NOT_FOUND'      // an object the user named does not exist
  | 'CLI_TIMEOUT';       // waited for a state that did not come

export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly exitCode: number;

  constructor(code: CliErrorCode, message: string, exitCode = code === 'CLI_USAGE' ? 2 : 1) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): CliError {
  return new CliError('CLI_USAGE', message);
}

export function failure(message: string): CliError {
  return new CliError('CLI_FAILED', message);
}
