#!/usr/bin/env bash
# Issue 10, item 3 and the tools/ move, as a re-runnable script: rewrite relative imports (moved
# files, and the names that left src/queue/schema.ts) with vocab-imports.mjs, then git mv every pair
# in vocab-moves.txt whose old path still exists, then fix the paths that shell scripts and docs
# spell out. Idempotent: a second run changes nothing. Run from anywhere in the repository.
# tools/lab/lab.sh is moved, never edited: the lab stays byte-identical.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
here=scripts/refactor

node "$here/vocab-imports.mjs"

while read -r from to; do
  case "$from" in ''|'#'*) continue ;; esac
  if [ -e "$from" ] && [ ! -e "$to" ]; then
    mkdir -p "$(dirname "$to")"
    git mv "$from" "$to"
  fi
done <"$here/vocab-moves.txt"
# Folders the moves emptied.
for dir in test/lab test/slack/fixtures; do [ -d "$dir" ] && rmdir --ignore-fail-on-non-empty "$dir"; done


# Paths spelled out in scripts, benches, tests' comments and docs (not in tools/lab/lab.sh).
files=$(git ls-files -- '*.sh' '*.md' '*.ts' '*.yaml' '*.yml' '.ci/*' | grep -v -e '^tools/lab/lab.sh$' -e '^scripts/refactor/' -e '^node_modules/')
# shellcheck disable=SC2086
sed -i \
  -e 's#test/slack/demo\.ts#scripts/demo-slack.ts#g' \
  -e 's#test/lab/#tools/lab/#g' -e 's#test/lab\b#tools/lab#g' \
  -e 's#test/slack/\(emulator\|driver\|render\|approvals\|gates\|harness\)\.ts#tools/slack-emulator/\1.ts#g' \
  -e 's#test/slack/fixtures#tools/slack-emulator/fixtures#g' \
  -e 's#test/support/remove-run-data\.ts#tools/redis/remove-run-data.ts#g' \
  $files
# Tests that find the lab script relative to themselves.
sed -i "s#new URL('\.\./lab/lab\.sh'#new URL('../../tools/lab/lab.sh'#" test/integration/*.ts
# bench/create-cluster/anchors find the lab relative to themselves.
sed -i 's#\.\./\.\./\.\./test/lab/lab\.sh#../../../tools/lab/lab.sh#' bench/create-cluster/anchors/*.sh
echo "vocab-move: done"
