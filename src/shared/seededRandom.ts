// A seeded stream of numbers in [0, 1), like Math.random's: the same seed gives the same stream, so a run
// that draws from it (p2c's picks, a fault's jitter and losses) replays. mulberry32 (Tommy Ettinger's),
// seeded by the seed's text through FNV-1a: small, fast, and good enough to spread picks; not for secrets.

export function seededRandom(seed: string | number): () => number {
  let state = 0x811c9dc5;
  for (const char of String(seed)) state = Math.imul(state ^ char.charCodeAt(0), 0x01000193);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
