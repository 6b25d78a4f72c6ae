#!/usr/bin/env bash
# Run a command (the suite: scripts/run-tests.sh) with `make lint` beside it, at a lower priority,
# and fail when either fails; the lint's output follows the command's.
#
#   scripts/run-beside-lint.sh COMMAND [ARGS...]
#
# `make test` ran the lint first, about a minute of one core on a clean clone (mypy strict
# without its cache), while the suite itself leaves a core idle for minutes: its first tests
# mostly wait on Terraform's provider and on guests booting. Niced, the lint takes what the
# suite leaves and the suite's own processes keep the cores they want (decision 0282).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lint_log=$(mktemp)
lint_pid=""
# The lint in a process group of its own: an interrupted suite takes make, mypy and ruff with it
# (a non-interactive shell's background jobs ignore the terminal's SIGINT).
stop_lint() { [ -z "$lint_pid" ] || kill -- "-$lint_pid" 2>/dev/null; }
trap 'rm -f "$lint_log"' EXIT
trap 'stop_lint; exit 130' INT
trap 'stop_lint; exit 143' TERM
setsid nice -n 10 make -C "$here" --no-print-directory lint >"$lint_log" 2>&1 &
lint_pid=$!
"$@"
status=$?
wait "$lint_pid"
linted=$?
echo "--- make lint, run beside the suite:"
cat "$lint_log"
if [ "$linted" -ne 0 ]; then
  echo "run-beside-lint: the lint failed (above)" >&2
  [ "$status" -ne 0 ] || status=$linted
fi
exit "$status"
