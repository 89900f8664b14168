// The images this runtime can run, by repository and tag, and how an image reference names one.
// Digests are accepted and ignored: every image here is built in, so there is nothing to pin.

import { EchoImage } from './images/EchoImage.js';
import { ExecImage } from './images/ExecImage.js';
import type { Image } from './images/Image.js';
import { NginxImage } from './images/NginxImage.js';
import { RedisImage } from './images/RedisImage.js';
import { SimpleNodeV01Image } from './images/SimpleNodeV01Image.js';
import { SimpleNodeV02Image } from './images/SimpleNodeV02Image.js';
import { WhoamiImage } from './images/WhoamiImage.js';

/** Given a tag, the image it names in that repository, or undefined for a tag that does not exist. */
export type ImageFactory = (tag: string) => Image | undefined;

export const catalogue: ReadonlyMap<string, ImageFactory> = new Map<string, ImageFactory>([
  ['nginx', (tag) => new NginxImage(tag)],
  ['traefik/whoami', () => new WhoamiImage()],
  [
    'madvirus/simplenode',
    (tag) => (tag === '0.1' ? new SimpleNodeV01Image() : tag === '0.2' || tag === 'latest' ? new SimpleNodeV02Image() : undefined),
  ],
  ['redis', () => new RedisImage()],
  ['routemesh/echo', () => new EchoImage()],
  ['routemesh/exec', () => new ExecImage()],
]);

export interface ImageRef {
  /** Docker Hub's short form: `nginx`, `madvirus/simplenode`. */
  repository: string;
  /** `latest` when none was given. */
  tag: string;
  /** The reference as given, less any digest: what "No such image" quotes. */
  named: string;
}

/** `nginx`, `nginx:1.25`, `docker.io/library/nginx:latest@sha256:…` all name repository `nginx`. */
export function parseImageRef(image: string): ImageRef {
  const named = image.split('@')[0]!;
  // A colon after the last slash is a tag; one before it belongs to a registry host:port.
  const colon = named.lastIndexOf(':');
  const hasTag = colon > named.lastIndexOf('/');
  let repository = hasTag ? named.slice(0, colon) : named;
  const tag = hasTag ? named.slice(colon + 1) : 'latest';
  repository = repository.replace(/^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, '');
  return { repository, tag, named };
}

export function findImage(ref: ImageRef): Image | undefined {
  return catalogue.get(ref.repository)?.(ref.tag);
}
