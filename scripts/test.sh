#!/usr/bin/env bash
# The whole test suite, as CI runs it: setup, lint, type check, then every test (unit and lab).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# A lab left behind by an aborted run would hold the bridge and the addresses.
bash tools/lab/lab.sh down >/dev/null 2>&1 || true
echo "== lint (eslint, import direction and cycles)"; npm run --silent lint
echo "== typecheck"; npx tsc -p tsconfig.json --noEmit
echo "== tests"
report=$(mktemp)
set +e
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@"
rc=$?
set -e
bash tools/lab/lab.sh down >/dev/null 2>&1 || true
# One plain closing line that any reader of the log understands.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
rm -f "$report"
exit $rc
