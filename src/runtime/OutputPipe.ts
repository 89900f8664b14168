// Real pipes for a task's stdout and stderr, as Docker gives a container. Node's stdio 'pipe' is a
// socketpair, and a program that opens /dev/stdout (nginx's `error_log /dev/stderr`) cannot reopen a
// socket (ENXIO); it can a pipe. Node cannot make one, so each is a FIFO, unlinked once both ends are open.

import { execFile } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export interface OutputPipe {
  /** The write end, for the child's stdio; close it in this process once the child is spawned. */
  readonly writeFd: number;
  /** The read end: ends once every process holding the write end has closed it. */
  readonly reader: net.Socket;
}

/**
 * A task's stdout and stderr, whose write ends `owner` may reopen through /dev/stdout (the FIFOs' mode is
 * 0600, so it must own them). The read ends are sockets on the event loop: a FIFO read through fs would
 * block the threadpool.
 */
export async function outputPipes(owner?: { uid: number; gid: number }): Promise<{ stdout: OutputPipe; stderr: OutputPipe }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'routemesh-pipe-'));
  const fds: number[] = [];
  try {
    const fifos = [path.join(dir, 'stdout'), path.join(dir, 'stderr')];
    await promisify(execFile)('mkfifo', ['-m', '600', ...fifos]);
    if (owner) await Promise.all(fifos.map((fifo) => chown(fifo, owner.uid, owner.gid)));
    const ends = fifos.map((fifo) => {
      // The read end first, without blocking; then a writer, which opens at once since a reader is there.
      const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      fds.push(readFd);
      const writeFd = openSync(fifo, constants.O_WRONLY);
      fds.push(writeFd);
      return { writeFd, readFd };
    });
    const [stdout, stderr] = ends.map(({ readFd, writeFd }) => ({ writeFd, reader: new net.Socket({ fd: readFd, readable: true, writable: false }) }));
    return { stdout: stdout!, stderr: stderr! };
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
