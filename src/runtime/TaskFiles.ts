// What a routemesh/exec task finds where a container would: its secrets in /run/secrets, its configs at
// their targets, its bind and volume mounts and tmpfs mounts. Two ways, chosen once per machine:
//
// - a private mount namespace (util-linux unshare --mount with private propagation; without root inside a
//   user namespace of its own, mapped back to routemesh's ids before the program runs): a small sh script
//   run inside it, as (namespace) root, mounts a tmpfs work area, binds every source there first, lays an
//   overlay on the nearest existing directory of any target that does not exist (so the mount point is
//   made in the task's view only), then binds each source onto its target, read-only where asked. A target
//   whose first directory does not exist (/data) gets, as root, a root of the task's own instead: an
//   overlay of / with the host's mounts bound in, the targets made there, the program chrooted into it.
//   Nothing is mounted or written where other programs look: the host sees only the task's own directory.
// - where no mount namespace can be had: the task's own directory holds a tree `root/` in which each
//   target sits at its path (secrets and configs as files, binds and volumes as symlinks, read-only not
//   enforced), named by $ROUTEMESH_ROOT, and each --env value naming a target is rewritten to point there.
//
// The task's directory (owner-only, under the runtime's task directory) holds the secrets' and configs'
// data while the task runs, and is removed when it ends.
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { RuntimeError } from './TaskRun.js';
import type { TaskFile, TaskMount } from './TaskRun.js';
import type { TaskUser } from './TaskUser.js';

const execFileAsync = promisify(execFile);

/** Docker's directory for secrets whose target is a bare name. */
export const SECRETS_DIR = '/run/secrets';
/** The variable naming a task's tree when no mount namespace is available. */
export const ROOT_VARIABLE = 'ROUTEMESH_ROOT';

/** One mount the script makes: a host path onto a target, or a fresh tmpfs. */
interface Placement {
  target: string;
  source?: string;
  isDir: boolean;
  readOnly: boolean;
  tmpfs?: boolean;
}

/** How a task's files reach it: a script to run in its mount namespace, or a tree and the environment naming it. */
export type PreparedFiles =
  | { how: 'namespace'; script: string; dir: string }
  | { how: 'directory'; env: Record<string, string>; dir: string };

/** Where a secret's target lands: a bare name under /run/secrets, an absolute path as given (Docker's rule). */
export function secretTarget(name: string): string {
  return path.isAbsolute(name) ? name : path.join(SECRETS_DIR, name);
}

/** Where a config's target lands: an absolute path as given, a bare name at the root (Docker's rule). */
export function configTarget(name: string): string {
  return path.isAbsolute(name) ? name : path.join('/', name);
}

const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** Refused as Docker refuses a target it cannot use, before anything is written. */
function checkTarget(target: string): void {
  if (!path.isAbsolute(target) || path.normalize(target) !== target.replace(/\/+$/, '') || target === '/') {
    throw new RuntimeError('INVALID_MOUNT', `invalid mount target ${JSON.stringify(target)}: it must be an absolute path without '..', other than /`);
  }
  if (/[,:\n]/.test(target)) throw new RuntimeError('INVALID_MOUNT', `invalid mount target ${JSON.stringify(target)}: routemesh cannot mount on a path with ',', ':' or a newline`);
}

/** The deepest directory on the way to `target` that exists on this machine (the target itself when it exists). */
async function nearestExisting(target: string): Promise<{ existing: string; stats: import('node:fs').Stats }> {
  let at = target;
  for (;;) {
    const stats = await stat(at).catch(() => undefined);
    if (stats) return { existing: at, stats };
    at = path.dirname(at);
  }
}

export class TaskFiles {
  readonly #base: string;
  #swept: Promise<void> | undefined;

  /** `base`: the directory under which each task gets its own (made owner-only, traversable by tasks' users). */
  constructor(base: string) {
    this.#base = base;
  }

  /**
   * Writes the task's data into its own directory and says how the task reaches it; undefined when the task
   * has no files nor mounts to apply. `namespaces`: whether mount namespaces work here (see mountNamespacesHere).
   */
  async prepare(taskId: string, user: TaskUser, files: readonly TaskFile[], mounts: readonly TaskMount[], namespaces: boolean): Promise<PreparedFiles | undefined> {
    if (!files.length && !mounts.length) return undefined;
    const targets = [...files.map((f) => f.target), ...mounts.map((m) => m.Target!)];
    for (const target of targets) checkTarget(target);
    const clash = targets.find((t, i) => targets.indexOf(t) !== i);
    if (clash) throw new RuntimeError('INVALID_MOUNT', `invalid mount config: duplicate mount point: ${clash}`);
    await this.#ownBase();
    const dir = path.join(this.#base, String(process.pid), taskId);
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true, mode: 0o711 });
    await mkdir(dir, { mode: 0o700 });
    try {
      if (namespaces) return { how: 'namespace', script: await this.#namespaceScript(dir, user, files, mounts), dir };
      return { how: 'directory', env: await this.#tree(dir, user, files, mounts), dir };
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * The directory of task directories, made owner-only but traversable (0711). One that is not a directory
   * of routemesh's own user (another user made it first, in a shared /tmp) is refused: secrets go there.
   */
  async #ownBase(): Promise<void> {
    await mkdir(this.#base, { recursive: true, mode: 0o711 });
    const stats = await lstat(this.#base);
    const uid = process.getuid?.() ?? 0;
    if (!stats.isDirectory() || stats.uid !== uid) {
      throw new RuntimeError('START_FAILED', `${this.#base} is not a directory of routemesh's own user (uid ${uid}), and a task's secrets would go there: remove it, or set TMPDIR to a directory of routemesh's own`);
    }
    await chmod(this.#base, 0o711);
    this.#swept ??= this.#sweep();
    await this.#swept;
  }

  /**
   * Each routemesh process keeps its tasks' directories under `<base>/<its pid>`, removed as each task ends:
   * a process that died however it died (SIGKILL, power loss) left its tasks' secrets there, which the
   * next routemesh process that prepares a task removes. Only directories of processes that are gone.
   */
  async #sweep(): Promise<void> {
    for (const name of await readdir(this.#base)) {
      if (!/^\d+$/.test(name) || Number(name) === process.pid || alive(Number(name))) continue;
      await rm(path.join(this.#base, name), { recursive: true, force: true }).catch(() => {});
    }
  }

  /** Removes a task's directory once it has ended. */
  async release(prepared: PreparedFiles | undefined): Promise<void> {
    if (prepared) await rm(prepared.dir, { recursive: true, force: true }).catch(() => {});
  }

  async #namespaceScript(dir: string, user: TaskUser, files: readonly TaskFile[], mounts: readonly TaskMount[]): Promise<string> {
    const asRoot = process.getuid?.() === 0;
    const placements: Placement[] = [];
    const secrets = files.filter((f) => f.kind === 'secret' && path.dirname(f.target) === SECRETS_DIR);
    if (secrets.length) {
      // /run/secrets as Docker has it: a directory of its own, mode 0755, read-only.
      const secretsDir = path.join(dir, 'secrets');
      await mkdir(secretsDir, { mode: 0o755 });
      for (const file of secrets) await writeData(path.join(secretsDir, path.basename(file.target)), file, asRoot ? file : undefined);
      placements.push({ target: SECRETS_DIR, source: secretsDir, isDir: true, readOnly: true });
    }
    let n = 0;
    for (const file of files.filter((f) => !secrets.includes(f))) {
      const source = path.join(dir, `file${n++}`);
      await writeData(source, file, asRoot ? file : undefined);
      placements.push({ target: file.target, source, isDir: false, readOnly: true });
    }
    for (const mount of mounts) {
      const type = mount.Type?.toLowerCase();
      if (type === 'tmpfs') {
        placements.push({ target: mount.Target!, isDir: true, readOnly: !!mount.ReadOnly, tmpfs: true });
        continue;
      }
      const source = mount.hostPath ?? mount.Source!;
      const stats = await stat(source).catch(() => undefined);
      if (!stats && !mount.BindOptions?.CreateMountpoint) throw new RuntimeError('INVALID_MOUNT', `invalid mount config for type "${mount.Type}": bind source path does not exist: ${source}`);
      if (!stats) await mkdir(source, { recursive: true });
      if (type === 'volume') await adoptEmptyVolume(source, user);
      placements.push({ target: mount.Target!, source, isDir: stats?.isDirectory() ?? true, readOnly: !!mount.ReadOnly });
    }
    // Parents first, as Docker sorts mounts: a config under a volume's target is bound after the volume.
    placements.sort((a, b) => depth(a.target) - depth(b.target));
    return buildScript(dir, await withOverlays(dir, placements));
  }

  /** The fallback: `<dir>/root` holds each target at its path; the environment names it and points --env values at it. */
  async #tree(dir: string, user: TaskUser, files: readonly TaskFile[], mounts: readonly TaskMount[]): Promise<Record<string, string>> {
    const root = path.join(dir, 'root');
    const owner = user.switchTo ? { uid: user.uid, gid: user.gid } : undefined;
    for (const file of files) {
      const at = path.join(root, file.target);
      await mkdir(path.dirname(at), { recursive: true, mode: 0o700 });
      // On the host, not in a namespace of its own: readable by the task's user alone, whatever the reference's mode.
      await writeData(at, { ...file, mode: 0o400 }, owner ? { uid: owner.uid, gid: owner.gid } : undefined);
    }
    for (const mount of mounts) {
      const at = path.join(root, mount.Target!);
      await mkdir(path.dirname(at), { recursive: true, mode: 0o700 });
      if (mount.Type?.toLowerCase() === 'tmpfs') await mkdir(at, { mode: 0o700 });
      else if (mount.Type?.toLowerCase() === 'volume') await adoptEmptyVolume(mount.hostPath!, user).then(() => symlink(mount.hostPath!, at));
      else await symlink(mount.hostPath ?? mount.Source!, at);
    }
    if (owner) await chownTree(dir, owner.uid, owner.gid);
    return { [ROOT_VARIABLE]: root };
  }
}

/** A secret's or config's data in a file of its own, with its owner and mode when routemesh may set them. */
async function writeData(at: string, file: Pick<TaskFile, 'data' | 'mode'>, owner: { uid: number; gid: number } | undefined): Promise<void> {
  await writeFile(at, file.data, { mode: 0o600, flag: 'wx' });
  if (owner) await chown(at, owner.uid, owner.gid);
  await chmod(at, file.mode & 0o777);
}

/**
 * An empty volume becomes the task's user's, as Docker's copy of the image's mount point (owner included)
 * into a new volume lets a container's user write to it: here tasks run as nobody unless told otherwise.
 */
async function adoptEmptyVolume(at: string, user: TaskUser): Promise<void> {
  if (!user.switchTo) return;
  if ((await readdir(at)).length === 0) await chown(at, user.uid, user.gid);
}

async function chownTree(at: string, uid: number, gid: number): Promise<void> {
  const stats = await lstat(at);
  if (stats.isSymbolicLink()) return;
  await chown(at, uid, gid);
  if (!stats.isDirectory()) return;
  for (const entry of await readdir(at)) await chownTree(path.join(at, entry), uid, gid);
}

/** What the script builds: the placements, the directories overlaid, and (when a target needs one) a root of the task's own. */
interface Plan {
  placements: Placement[];
  overlays: string[];
  /** The host's mount points hanging off its root mount, brought into the task's root (undefined: no root of its own). */
  root?: string[];
}

/**
 * The overlays a set of placements needs: for each target that does not exist, its nearest existing
 * directory (the outermost of nested ones). Where that is `/`, the task gets a root of its own (as root
 * only: in a user namespace the kernel refuses an overlay whose lower layer is `/`, whose submounts are
 * locked there); the overlays it still needs are those on the host's other mounts (/run, /tmp ...), laid
 * in its root. Without one, a directory holding the task's own directory is refused (the work area would
 * vanish under it).
 */
async function withOverlays(dir: string, placements: Placement[]): Promise<Plan> {
  const overlays = new Map<string, string>(); // directory overlaid -> the first target needing it
  let needsRoot: Placement | undefined;
  for (const placement of placements) {
    const { existing, stats } = await nearestExisting(placement.target);
    if (existing === placement.target) {
      if (stats.isDirectory() !== placement.isDir) {
        throw new RuntimeError('INVALID_MOUNT', `invalid mount config: cannot mount a ${placement.isDir ? 'directory' : 'file'} on ${placement.target}, which is a ${stats.isDirectory() ? 'directory' : 'file'} on this machine`);
      }
      continue;
    }
    if (!stats.isDirectory()) throw new RuntimeError('INVALID_MOUNT', `invalid mount config: ${existing} on the way to ${placement.target} is not a directory`);
    if (existing === '/') needsRoot ??= placement;
    else if (!overlays.has(existing)) overlays.set(existing, placement.target);
  }
  if (needsRoot && process.getuid?.() !== 0) {
    const first = needsRoot.target.split('/').slice(0, 2).join('/');
    const create = first === needsRoot.target && !needsRoot.isDir ? `an empty file ${first}` : `the directory ${first}`;
    throw new RuntimeError('INVALID_MOUNT', `routemesh cannot make ${needsRoot.target} for the task: ${first} does not exist on this machine, and a root of the task's own ` +
      `(an overlay on /) needs routemesh to run as root (in a user namespace the kernel refuses it); create ${create}, or choose a target under an existing directory (e.g. ${needsRoot.isDir ? '/srv' : '/etc'}${needsRoot.target})`);
  }
  const mounts = needsRoot ? await hostMounts() : undefined;
  const kept = [...overlays.keys()].filter((existing) => {
    if (mounts) return mountOf(existing, mounts.all) !== '/'; // on the root mount: the task's root overlay makes it
    if (`${dir}/`.startsWith(`${existing}/`)) {
      throw new RuntimeError('INVALID_MOUNT', `routemesh cannot make ${overlays.get(existing)} for the task: ${existing} holds routemesh's task directory (${dir}); choose another target`);
    }
    return true;
  });
  const outermost = kept.filter((a) => !kept.some((b) => b !== a && a.startsWith(`${b}/`)));
  return { placements, overlays: outermost, root: mounts?.underRoot };
}

/** The host's mount points (/proc/self/mountinfo): all of them, and the outermost ones hanging off its root mount. */
async function hostMounts(): Promise<{ all: string[]; underRoot: string[] }> {
  const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const entries = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter(Boolean).map((line) => {
    const [id, parent, , , at] = line.split(' ');
    return { id: id!, parent: parent!, at: unescape(at!) };
  });
  const root = entries.filter((e) => e.at === '/').at(-1)?.id;
  const children = [...new Set(entries.filter((e) => e.parent === root && e.at !== '/').map((e) => e.at))];
  const underRoot = children.filter((a) => !children.some((b) => a.startsWith(`${b}/`))).sort();
  return { all: [...new Set(entries.map((e) => e.at))], underRoot };
}

/** The mount point `at` lies on. */
function mountOf(at: string, mountPoints: string[]): string {
  return mountPoints.filter((m) => m === '/' || at === m || at.startsWith(`${m}/`)).sort((a, b) => b.length - a.length)[0] ?? '/';
}

/**
 * The sh script run as (namespace) root in the task's mount namespace, before it execs the task's program
 * ("$@"). With a root of its own: an overlay of the host's `/` (its upper layer in the work area, so
 * nothing is written to the host) into which the host's mounts are bound recursively, the targets made
 * and bound there; it is then moved onto `/` (so a health command joining the namespace sees it too) and
 * the program runs chrooted into it, in the working directory it was started in.
 */
function buildScript(dir: string, plan: Plan): string {
  const work = path.join(dir, 'm');
  const root = plan.root ? `${work}/root` : '';
  const lines = ['set -e', ...(plan.root ? ['routemesh_wd=$(pwd -P)'] : []), `mkdir ${quote(work)}`, `mount -t tmpfs -o mode=0700 routemesh ${quote(work)}`];
  // Every source is held in the work area before any overlay could hide the path it was reached by.
  plan.placements.forEach((p, i) => {
    if (!p.source) return;
    const held = `${work}/s${i}`;
    lines.push(p.isDir ? `mkdir ${quote(held)}` : `: > ${quote(held)}`, `mount --bind ${quote(p.source)} ${quote(held)}`);
  });
  if (plan.root) {
    lines.push(`mkdir -p ${quote(`${work}/r/u`)} ${quote(`${work}/r/w`)} ${quote(root)}`,
      `mount -t overlay routemesh -o ${quote(`lowerdir=/,upperdir=${work}/r/u,workdir=${work}/r/w`)} ${quote(root)}`);
    for (const at of plan.root) lines.push(`mount --rbind ${quote(at)} ${quote(root + at)}`);
    // The work area came along where a bound mount holds it (/tmp): out of the task's sight.
    lines.push(`umount -l ${quote(root + work)} 2>/dev/null || true`);
  }
  plan.overlays.forEach((lower, i) => {
    const upper = `${work}/o${i}/u`;
    const workdir = `${work}/o${i}/w`;
    lines.push(`mkdir -p ${quote(upper)} ${quote(workdir)}`,
      `mount -t overlay routemesh -o ${quote(`lowerdir=${root + lower},upperdir=${upper},workdir=${workdir}`)} ${quote(root + lower)}`);
  });
  plan.placements.forEach((p, i) => {
    const target = quote(root + p.target);
    lines.push(p.isDir ? `mkdir -p ${target}` : `mkdir -p ${quote(path.dirname(root + p.target))}; [ -e ${target} ] || : > ${target}`);
    if (p.tmpfs) lines.push(`mount -t tmpfs -o ${p.readOnly ? 'ro,' : ''}mode=1777 tmpfs ${target}`);
    else lines.push(`mount --bind ${quote(`${work}/s${i}`)} ${target}`);
    if (p.readOnly && !p.tmpfs) lines.push(`mount -o remount,bind,ro ${target}`);
  });
  if (plan.root) lines.push(`cd ${quote(root)}`, 'mount --move . /', 'exec unshare --root=. --wd="$routemesh_wd" -- "$@"');
  else lines.push('exec "$@"');
  return lines.join('\n');
}

let namespacesHere: Promise<boolean> | undefined;

/**
 * Whether routemesh can give a task a private mount namespace here (tried once): as root, unshare --mount;
 * otherwise a user namespace in which it is root, which a second one maps back to routemesh's own ids.
 */
export function mountNamespacesHere(): Promise<boolean> {
  namespacesHere ??= (async () => {
    try {
      const uid = process.getuid?.() ?? 0;
      const gid = process.getgid?.() ?? 0;
      const check = uid === 0
        ? ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount -t tmpfs routemesh /mnt']
        : ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--', 'sh', '-c',
          `mount -t tmpfs routemesh /mnt && unshare --user --map-user=${uid} --map-group=${gid} -- true`];
      await execFileAsync('unshare', check, { timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  })();
  return namespacesHere;
}

/** Whether a process of that PID exists (one of another user's counts: EPERM). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How many path components a target has: `/srv/app/config.yml` has 3. */
function depth(target: string): number {
  return target.split('/').filter(Boolean).length;
}
