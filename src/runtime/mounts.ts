// A task's mounts checked as Docker's daemon checks them when it creates the container (moby's
// volume/mounts linux parser), so a bind mount of a missing path rejects the task as on Swarm. routemesh
// does not apply mounts: a task sees the host's file system as it is.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RuntimeError } from './TaskRun.js';
import type { TaskMount } from './TaskRun.js';

function invalid(mount: TaskMount, reason: string): RuntimeError {
  return new RuntimeError('INVALID_MOUNT', `invalid mount config for type "${mount.Type ?? ''}": ${reason}`);
}

const absolute = (where: string): string => `invalid mount path: '${where}' mount path must be absolute`;

/** Throws a RuntimeError (INVALID_MOUNT) with Docker's words for the first mount Docker would refuse. */
export function checkMounts(mounts: readonly TaskMount[]): void {
  for (const mount of mounts) {
    const type = mount.Type?.toLowerCase();
    if (!mount.Target) throw invalid(mount, 'field Target must not be empty');
    if (!path.isAbsolute(mount.Target)) throw invalid(mount, absolute(mount.Target));
    if (type === 'bind') {
      if (!mount.Source) throw invalid(mount, 'field Source must not be empty');
      if (mount.VolumeOptions) throw invalid(mount, 'field VolumeOptions must not be specified');
      if (!path.isAbsolute(mount.Source)) throw invalid(mount, absolute(mount.Source));
      if (!existsSync(mount.Source) && !mount.BindOptions?.CreateMountpoint) throw invalid(mount, `bind source path does not exist: ${mount.Source}`);
    } else if (type === 'volume') {
      if (mount.BindOptions) throw invalid(mount, 'field BindOptions must not be specified');
    } else if (type === 'tmpfs') {
      if (mount.Source) throw invalid(mount, 'field Source must not be specified');
      if (mount.BindOptions) throw invalid(mount, 'field BindOptions must not be specified');
      if (mount.VolumeOptions) throw invalid(mount, 'field VolumeOptions must not be specified');
    } else {
      throw invalid(mount, 'mount type unknown');
    }
  }
}
