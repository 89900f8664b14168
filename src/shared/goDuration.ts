// Go's duration syntax both ways, as Docker speaks it: "1m30s", "500ms", "1.5h" to nanoseconds
// (time.ParseDuration, which every docker duration flag uses) and nanoseconds back to Go's
// Duration.String(). Shared by the CLI's flags and the swarm's duration labels.

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.Duration is an int64 of nanoseconds: ParseDuration refuses anything past it. */
const MAX_NS = 2 ** 63;

/**
 * Nanoseconds, or undefined when the text is not a Go duration or is beyond what one holds (about
 * 2562047h), as Go says `time: invalid duration` for both. Compound durations (`2m30s`) add up.
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  const part = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (s !== '') {
    const m = part.exec(s);
    if (m === null) return undefined;
    const [whole, int = '', frac = '', unit = ''] = m;
    if (int === '' && frac === '') return undefined;
    const scale = UNITS[unit]!;
    total += Number(int === '' ? 0 : int) * scale;
    if (frac !== '') total += Math.round(Number(`0.${frac}`) * scale);
    s = s.slice(whole.length);
  }
  if (Math.round(total) >= MAX_NS) return undefined;
  return sign * Math.round(total);
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
