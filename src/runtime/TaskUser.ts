// Who a task's processes run as: the service's `--user` (ContainerSpec.User, "name|uid[:group|gid]")
// resolved against this machine's /etc/passwd and /etc/group the way Docker resolves it in a container.
// routemesh as root never runs a task as root unless the service asks: without --user, tasks run as nobody.

import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { RuntimeError } from './TaskRun.js';

export interface TaskUser {
  uid: number;
  gid: number;
  /** HOME of the task: the user's home in passwd, "/" for a uid passwd does not know (as Docker). */
  home: string;
  /** Supplementary groups: the user's in /etc/group when named implicitly (Docker's rule), else none. */
  groups: 'init' | 'clear';
  /** Whether routemesh must switch to this user (it runs as root); otherwise the task runs as routemesh does. */
  switchTo: boolean;
}

export interface TaskUserOptions {
  /** routemesh's own uid and gid (default: this process's). */
  uid?: number;
  gid?: number;
  passwdFile?: string;
  groupFile?: string;
}

/** Whom tasks run as when routemesh is root and the service names no --user. */
const DEFAULT_TASK_USER = 'nobody';

/** moby/sys/user's range for numeric ids. */
const MAX_ID = 2 ** 31 - 1;

/** A line of passwd or group: its name, its id and all its fields. */
interface Entry {
  name: string;
  id: number;
  fields: string[];
}

export async function resolveTaskUser(spec: string | undefined, options: TaskUserOptions = {}): Promise<TaskUser> {
  const ownUid = options.uid ?? process.getuid?.() ?? 0;
  const ownGid = options.gid ?? process.getgid?.() ?? 0;
  const asRoot = ownUid === 0;
  const given = spec?.trim() || undefined;
  if (given === undefined && !asRoot) {
    return { uid: ownUid, gid: ownGid, home: ownHome(), groups: 'init', switchTo: false };
  }
  const [userPart = '', groupPart] = (given ?? DEFAULT_TASK_USER).split(':', 2);
  const passwd = await entries(options.passwdFile ?? '/etc/passwd');
  const found = passwd.find((e) => e.name === userPart) ?? (isId(userPart) ? passwd.find((e) => e.id === Number(userPart)) : undefined);
  let user: TaskUser;
  if (found) {
    user = { uid: found.id, gid: Number(found.fields[3]) || 0, home: found.fields[5] || '/', groups: 'init', switchTo: asRoot };
  } else if (isId(userPart)) {
    user = { uid: checkedId(userPart), gid: 0, home: '/', groups: 'clear', switchTo: asRoot };
  } else if (given === undefined) {
    user = { uid: 65534, gid: 65534, home: '/', groups: 'clear', switchTo: true }; // no nobody in passwd: its usual ids
  } else {
    throw new RuntimeError('START_FAILED', `unable to find user ${userPart}: no matching entries in passwd file; name a user of this machine or a numeric uid.`);
  }
  if (groupPart !== undefined) {
    const groups = await entries(options.groupFile ?? '/etc/group');
    const group = groups.find((e) => e.name === groupPart) ?? (isId(groupPart) ? { id: checkedId(groupPart) } : undefined);
    if (!group) throw new RuntimeError('START_FAILED', `unable to find group ${groupPart}: no matching entries in group file; name a group of this machine or a numeric gid.`);
    user = { ...user, gid: group.id, groups: 'clear' };
  }
  if (!asRoot && (user.uid !== ownUid || user.gid !== ownGid)) {
    throw new RuntimeError(
      'START_FAILED',
      `routemesh runs as uid ${ownUid} (gid ${ownGid}), so it cannot run this task as user ${given} (uid ${user.uid}, gid ${user.gid}); run routemesh as root, or leave out --user.`,
    );
  }
  return user;
}

function isId(text: string): boolean {
  return /^\d+$/.test(text);
}

function checkedId(text: string): number {
  const id = Number(text);
  if (id > MAX_ID) throw new RuntimeError('START_FAILED', `uids and gids must be in range 0-${MAX_ID}, got ${text}.`);
  return id;
}

function ownHome(): string {
  try {
    return userInfo().homedir;
  } catch {
    return '/'; // a uid without a passwd entry (a container's arbitrary user)
  }
}

/** passwd (name:x:uid:gid:gecos:home:shell) and group (name:x:gid:members) lines; a missing file has none. */
async function entries(file: string): Promise<Entry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    const fields = line.split(':');
    if (fields.length < 3 || line.startsWith('#') || !isId(fields[2]!)) return [];
    return [{ name: fields[0]!, id: Number(fields[2]), fields }];
  });
}
