// moby's stdcopy framing, in which the daemon sends a non-TTY container's output (logs, attach): an 8-byte
// header per chunk ([stream, 0, 0, 0, length as a big-endian u32]) and the chunk.

/** The streams; `systemerr` carries an error of the daemon's, which ends the docker CLI's reading. */
const STREAM = { stdout: 1, stderr: 2, systemerr: 3 } as const;

export function frame(stream: keyof typeof STREAM, payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = STREAM[stream];
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}
