// GET /system/df (`docker system df [-v]`): the built-in images (the size of the code each is), this
// node's containers (no writable layer: 0 bytes each), the volumes a provider reports, and no build cache.
import { builtInImages } from '../../runtime/index.js';
import type { ContainerFacts } from './ContainerFacts.js';
import { canonicalImage, containerSummary, imageIdOf } from './containerJson.js';

/** Volumes as Docker's df lists them (api/types/volume.Volume with UsageData), from whoever keeps them. */
export type VolumeUsageProvider = () => Promise<readonly Record<string, unknown>[]>;

export async function diskUsage(containers: readonly ContainerFacts[], volumes: VolumeUsageProvider | undefined, types: readonly string[]): Promise<Record<string, unknown>> {
  const want = (type: string): boolean => types.length === 0 || types.includes(type);
  const body: Record<string, unknown> = {};
  if (want('image')) {
    const images = await builtInImages();
    body.LayersSize = images.reduce((sum, image) => sum + image.size, 0);
    body.Images = images.map((image) => ({
      Id: imageIdOf(image.references[0]!),
      ParentId: '',
      RepoTags: [...image.references],
      RepoDigests: [],
      Created: Math.floor(image.created.getTime() / 1000),
      Size: image.size,
      SharedSize: 0,
      VirtualSize: image.size,
      Labels: {},
      Containers: containers.filter((c) => image.references.includes(canonicalImage(c.image))).length,
    }));
  }
  if (want('container')) body.Containers = containers.map((c) => ({ ...containerSummary(c), SizeRw: 0, SizeRootFs: 0 }));
  if (want('volume')) body.Volumes = volumes ? await volumes() : [];
  if (want('build-cache')) body.BuildCache = [];
  return body;
}
