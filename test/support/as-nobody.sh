#!/usr/bin/env bash
# `npm run test:unprivileged`: the end-to-end files again as `nobody`. CI runs as root, where npm test never
# meets what a user without root gets (task ports below 1024 moved, DNS on 10053, a low published port
# refused); test/unprivileged.test.ts checks those once, this runs the whole flows. From a copy of the
# checkout nobody can read, on address blocks shifted by 80, so it may run beside the suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
files=(test/mesh-e2e.test.ts test/api.test.ts test/cli-e2e.test.ts test/planned-changes.test.ts test/dns-e2e.test.ts test/task-files.test.ts)
if [ "$(id -u)" != 0 ]; then
  echo "not root: npm test already ran every file unprivileged"
  exit 0
fi
# The CLI tests run the build, as users do.
[ -e dist/cli/main.js ] || npm run build
copy=$(mktemp -d "${TMPDIR:-/tmp}/routemesh-nobody-XXXXXX")
trap 'rm -rf "$copy"' EXIT
cp -r package.json tsconfig.json bin dist src test "$copy"
# Hard links are instant on one filesystem; a symlinked node_modules stays a link.
cp -al node_modules "$copy" 2>/dev/null || cp -a node_modules "$copy"
chmod 755 "$copy"
chown 65534:65534 "$copy" # tap keeps its state in .tap/ of the working directory
cd "$copy"
# A clean environment: nothing of the caller's (a docker context, a TAP setting) reaches the tests.
exec env -i PATH="$PATH" HOME="$copy" ROUTEMESH_TEST_BLOCK_OFFSET=80 \
  setpriv --reuid=65534 --regid=65534 --clear-groups -- "$(command -v node)" node_modules/tap/dist/esm/run.mjs "${files[@]}"
