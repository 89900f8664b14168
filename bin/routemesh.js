#!/usr/bin/env node
// The `routemesh` command (./routemesh in a checkout links here): runs the compiled CLI in dist/, which
// `npm ci` builds (`prepare`) and `npm start` or `npm run build` bring up to date, so it starts at once.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
);
