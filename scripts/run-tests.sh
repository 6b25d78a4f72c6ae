#!/usr/bin/env bash
# Run pytest and refuse a run that collected no test: pytest's exit code 5 ("no tests collected")
# must fail, and so must a run whose summary shows zero tests passed.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$here/.venv/bin/pytest" -p no:cacheprovider "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -eq 5 ]; then
  echo "run-tests: pytest collected no test" >&2
  exit 1
fi
if ! grep -Eq '[0-9]+ passed' "$log"; then
  echo "run-tests: no test passed" >&2
  [ "$status" -eq 0 ] && exit 1
fi
exit "$status"
