#!/usr/bin/env bash
# `npm test`: the whole suite. Builds dist/ first (the CLI tests run the built command, as users do; the
# build is incremental, so an unchanged tree costs about 2 s), type-checks src, test and bench while the
# tests run (incremental too: 5 CPU-s instead of 17 when little changed), and runs the test files in two
# lanes: those that mostly wait (on timers, fences, child processes, the network) six at a time, then
# BUSY, the ones that keep a core busy or hold what they time to tight bounds, two at a time, so they
# never share the machine with more than one other file (longest first). Fails if any part fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
PATH="$PWD/node_modules/.bin:$PATH" # as npm sets it, should this run by itself

BUSY=(
  test/no-stall.test.ts
  test/lb-algorithms-e2e.test.ts
  test/swarm-restart.test.ts
  test/dns-flood.test.ts
  test/planned-changes-processes.test.ts
  test/udp-e2e.test.ts
  test/container-stats.test.ts
  test/dns-tcp-limits.test.ts
  test/planned-changes.test.ts
  test/dns-server.test.ts
  test/node-kill.test.ts
  test/fence-period.test.ts
  test/ui-browser.test.ts
  test/quorum.test.ts
  test/planned-stop-keepalive.test.ts
  test/node-failure.test.ts
  test/dns-fuzz.test.ts
  test/dns-fuzz-sockets.test.ts
)

# The first lane's longest files, started first: the lane then ends on short files, not on one long file
# running alone (tap starts the files in the order it is given them; by itself, alphabetically).
SLOW_FIRST=(
  test/etcd-managers.test.ts
  test/seed-flows-parts.test.ts
  test/docker-cli-e2e.test.ts
  test/exec-containment.test.ts
  test/etcd-review.test.ts
  test/seed-flows.test.ts
  test/seed-flows-reference.test.ts
  test/seed-flows-swarm.test.ts
  test/cluster-protocol.test.ts
  test/etcd-keyspace.test.ts
  test/node-processes.test.ts
  test/etcd-followers.test.ts
  test/unit.test.ts
)
rest=()
for file in test/*.test.ts; do
  [[ " ${BUSY[*]} ${SLOW_FIRST[*]} " == *" $file "* ]] || rest+=("$file")
done

tsc -p tsconfig.build.json --incremental --tsBuildInfoFile dist/.tsbuildinfo || exit 1
tsc -p tsconfig.json --incremental --tsBuildInfoFile dist/.typecheck.tsbuildinfo &
typecheck=$!
tap --jobs=6 "${SLOW_FIRST[@]}" "${rest[@]}"
waiting=$?
tap --jobs=2 "${BUSY[@]}"
busy=$?
wait "$typecheck"
typed=$?
[ "$typed" = 0 ] || echo "# the type check (tsc -p tsconfig.json) failed: its errors are above"
exit $((waiting || busy || typed))
