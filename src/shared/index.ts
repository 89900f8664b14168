// Small pure helpers more than one module needs, importing nothing of ours: any module may use them.
export { formatGoDuration, parseGoDuration } from './goDuration.js';
export { ageMs, humanDuration } from './humanDuration.js';
export { naturalCompare, naturalLess } from './naturalSort.js';
export { seededRandom } from './seededRandom.js';
export { faultEffect, faultTarget } from './faultWords.js';
export type { FaultWording } from './faultWords.js';
