// Go's duration syntax both ways, as Docker speaks it: "1m30s", "500ms", "1.5h" to nanoseconds
// (time.ParseDuration, which every docker duration flag uses) and nanoseconds back to Go's
// Duration.String(). Shared by the CLI's flags and the swarm's duration labels.

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  'µs': 1000n, // U+00B5 micro sign
  'μs': 1000n, // U+03BC Greek mu
  ms: 1000_000n,
  s: 1000_000_000n,
  m: 60_000_000_000n,
  h: 3600_000_000_000n,
};

/**
 * Go's time.Duration is an int64 of nanoseconds: ParseDuration refuses anything past it. Added up in BigInt,
 * as a float rounds 2^63 - 1 (2562047h47m16.854775807s, Go's own String() of the largest) up to 2^63.
 */
const MAX_NS = 2n ** 63n - 1n;
const MIN_NS = -(2n ** 63n);

/**
 * Nanoseconds, or undefined when the text is not a Go duration or is beyond what one holds (about
 * 2562047h), as Go says `time: invalid duration` for both. Compound durations (`2m30s`) add up; a
 * fraction of a nanosecond is dropped, as Go drops it.
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1n;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1n : 1n;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0n;
  const part = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (s !== '') {
    const m = part.exec(s);
    if (m === null) return undefined;
    const [whole, int = '', frac = '', unit = ''] = m;
    if (int === '' && frac === '') return undefined;
    const scale = UNITS[unit]!;
    total += BigInt(int === '' ? 0 : int) * scale;
    if (frac !== '') total += (BigInt(frac) * scale) / 10n ** BigInt(frac.length);
    s = s.slice(whole.length);
  }
  total *= sign;
  if (total > MAX_NS || total < MIN_NS) return undefined;
  return Number(total);
}

/** Go's time.Duration.String(): 0s, 500ms, 1.5s, 1m30s, 2h0m0s. */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  let out: string;
  if (u < 1e9) {
    // Below a second Go picks the largest unit that keeps an integer part.
    const [unit, scale] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = fraction(u, scale) + unit;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    out = `${fraction(u, 1e9)}s`;
    if (h > 0 || m > 0) out = `${m}m${out}`;
    if (h > 0) out = `${h}h${out}`;
  }
  return neg ? `-${out}` : out;
}

function fraction(value: number, scale: number): string {
  const int = Math.floor(value / scale);
  const rest = value - int * scale;
  if (rest === 0) return String(int);
  const digits = String(scale).length - 1;
  return `${int}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}
