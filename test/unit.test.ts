// The unit tests (test/unit/*.ts), run in this one process, one file after another in name order: each
// as a process of its own cost about a second of CPU to start (tsx, tap, the modules it imports) for a
// few tenths of testing, 59 CPU-s in all where one process takes 9. Each file is still a test of its own
// parts: `npx tap test/unit/ipam.ts` runs one alone.
import { readdirSync } from 'node:fs';

const UNIT = new URL('./unit/', import.meta.url);
for (const file of readdirSync(UNIT).filter((name) => name.endsWith('.ts')).sort()) await import(new URL(file, UNIT).href);
