// Errors the control plane raises. `code` is stable (the engine API maps it to an HTTP status);
// `message` is what a user reads, worded as the Docker daemon words it.

export type SwarmErrorCode =
  | 'not_found'
  | 'invalid_argument'
  | 'already_exists'
  | 'failed_precondition'
  | 'permission_denied'
  | 'out_of_sequence'
  | 'unimplemented'
  | 'unavailable';

export class SwarmError extends Error {
  readonly code: SwarmErrorCode;
  constructor(code: SwarmErrorCode, message: string) {
    super(message);
    this.name = 'SwarmError';
    this.code = code;
  }
}

/** swarmkit's errors reach users wrapped in gRPC's words; the daemon's own errors do not. */
export function rpcError(code: SwarmErrorCode, grpcCode: string, desc: string): SwarmError {
  return new SwarmError(code, `rpc error: code = ${grpcCode} desc = ${desc}`);
}

export const notFound = (kind: string, ref: string) => new SwarmError('not_found', `${kind} ${ref} not found`);
export const invalidArgument = (desc: string) => rpcError('invalid_argument', 'InvalidArgument', desc);
export const failedPrecondition = (desc: string) => rpcError('failed_precondition', 'FailedPrecondition', desc);
export const outOfSequence = () => rpcError('out_of_sequence', 'Unknown', 'update out of sequence');
export const nameConflict = (name: string) =>
  rpcError('already_exists', 'AlreadyExists', `name conflicts with an existing object: service ${name} already exists`);
