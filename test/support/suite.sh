#!/usr/bin/env bash
# `npm test`: the whole suite. Builds dist/ first (the CLI tests run the built command, as users do; the
# build is incremental, so an unchanged tree costs about 2 s), type-checks src, test and bench while the
# tests run (incremental too: 5 CPU-s instead of 17 when little changed), and runs the test files in two
# lanes: those that mostly wait (on timers, fences, child processes, the network) six at a time, then
# BUSY, the ones that keep a core busy or hold what they time to tight bounds, two at a time, so they
# never share the machine with more than one other file. Fails if any part fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
PATH="$PWD/node_modules/.bin:$PATH" # as npm sets it, should this run by itself

BUSY=(
  test/dns-flood.test.ts
  test/dns-fuzz.test.ts
  test/dns-fuzz-sockets.test.ts
  test/dns-server.test.ts
  test/fence-period.test.ts
  test/dns-tcp-limits.test.ts
  test/container-stats.test.ts
  test/lb-algorithms-e2e.test.ts
  test/no-stall.test.ts
  test/node-failure.test.ts
  test/node-kill.test.ts
  test/planned-changes.test.ts
  test/planned-changes-processes.test.ts
  test/planned-stop-keepalive.test.ts
  test/quorum.test.ts
  test/swarm-restart.test.ts
  test/udp-e2e.test.ts
  test/ui-browser.test.ts
)

tsc -p tsconfig.build.json --incremental --tsBuildInfoFile dist/.tsbuildinfo || exit 1
tsc -p tsconfig.json --incremental --tsBuildInfoFile dist/.typecheck.tsbuildinfo &
typecheck=$!
tap --jobs=6 "${BUSY[@]/#/--exclude=}"
waiting=$?
tap --jobs=2 "${BUSY[@]}"
busy=$?
wait "$typecheck"
typed=$?
[ "$typed" = 0 ] || echo "# the type check (tsc -p tsconfig.json) failed: its errors are above"
exit $((waiting || busy || typed))
