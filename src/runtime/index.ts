// The runtime module's public face: other modules import only from here.

export { Runtime } from './Runtime.js';
export type { RuntimeOptions, TaskOutput } from './Runtime.js';
export { RuntimeError } from './TaskRun.js';
export type { ListenPort, LogLine, RunningTask, TaskFile, TaskMount, TaskRunSpec, TransportProtocol } from './TaskRun.js';
export { ROOT_VARIABLE, SECRETS_DIR, configTarget, mountNamespacesHere, secretTarget } from './TaskFiles.js';
export { healthProbe } from './healthProbe.js';
export type { Probe } from './healthProbe.js';
export { parseImageRef } from './catalogue.js';
export type { ImageRef } from './catalogue.js';
export { builtInImages } from './builtInImages.js';
export type { BuiltInImage } from './builtInImages.js';
