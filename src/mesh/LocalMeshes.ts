// The meshes running in this process. VIPs (and the DNS records) are held by one node, since they are
// addresses on this one machine: the first Ready node whose mesh runs here. A node powered off by fault
// injection is still Ready to the managers until it misses its heartbeats; its mesh is gone at once, so
// the next node takes the VIPs over at once too.

/** What this registry needs of a mesh. */
export interface LocalMesh {
  readonly node: string;
  sync(): void;
}

export class LocalMeshes {
  #meshes = new Set<LocalMesh>();

  /** A mesh started: the others look again at which of them holds the VIPs (it may be the new one). */
  add(mesh: LocalMesh): void {
    this.#meshes.add(mesh);
    for (const other of this.#meshes) if (other !== mesh) other.sync();
  }

  /** A mesh stopped, and its VIP listeners are closed: the others look again at which of them holds the VIPs. */
  remove(mesh: LocalMesh): void {
    if (!this.#meshes.delete(mesh)) return;
    for (const other of this.#meshes) other.sync();
  }

  runs(node: string): boolean {
    for (const mesh of this.#meshes) if (mesh.node === node) return true;
    return false;
  }
}
