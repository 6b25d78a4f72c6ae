#!/usr/bin/env bash
# Run pytest and refuse a run that collected no test: pytest's exit code 5 ("no tests collected")
# must fail, and so must a run whose summary shows zero tests passed.
set -uo pipefail
#
# One private PostgreSQL cluster serves the whole run (every xdist worker makes its own databases
# in it): started here unless ANDROMEDE_TEST_POSTGRES_URL already names one, stopped on exit.
# Likewise one private Ceph cluster (memstore), every xdist worker in its own RADOS namespaces,
# unless ANDROMEDE_TEST_CEPH_CONF already names one. Without their binaries the tests that need
# them skip (fail under ANDROMEDE_TEST_REQUIRE_ALL=1).
here=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
#
# Bytecode written, and written once before the workers start. With PYTHONDONTWRITEBYTECODE set
# (as it is in this project's machines' environment) every interpreter compiled the sources
# again: each xdist worker's collection took 30 s of CPU instead of 7, and every server, agent
# and CLI call exec'd compiled the application anew (0.6 s each). Without it, the four workers
# of a clean clone still all compiled the same files at once. One pass compiles the sources and
# collects the tests (which writes pytest's rewritten test modules), in the background while
# PostgreSQL and Ceph start; the workers then read it all from __pycache__ (git ignores it).
# The collection runs as two processes of half the test files each, one a core: one process
# took about a minute of one core on a clean clone, the run's longest step before its first
# test (decision 0282).
unset PYTHONDONTWRITEBYTECODE
test_paths=()
for arg in "$@"; do
  case "$arg" in
    -*) ;;
    *) [ -e "$arg" ] && test_paths+=("$arg") ;;
  esac
done
collect_only() {
  [ $# -eq 0 ] || env -u ANDROMEDE_TEST_TIMELINE "$here/.venv/bin/pytest" -p no:cacheprovider \
    --collect-only -q "$@" >/dev/null 2>&1
}
(
  "$here/.venv/bin/python" -m compileall -q -j 2 "$here/src" >/dev/null 2>&1
  if [ ${#test_paths[@]} -gt 0 ]; then
    mapfile -t test_files < <(find "${test_paths[@]}" \( -name 'test_*.py' -o -name '*_test.py' \) | sort)
    first=() second=()
    for index in "${!test_files[@]}"; do
      if [ $((index % 2)) -eq 0 ]; then first+=("${test_files[$index]}"); else second+=("${test_files[$index]}"); fi
    done
    collect_only "${first[@]}" &
    collect_only "${second[@]}"
    wait
  fi
) &
precompile=$!
pg_dir=""
ceph_dir=""
cleanup() {
  rm -f "$log" "$log.pg"
  if [ -n "$pg_dir" ]; then
    bash "$here/scripts/postgres-cluster.sh" stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
  if [ -n "$ceph_dir" ]; then
    bash "$here/scripts/ceph-cluster.sh" stop "$ceph_dir" >/dev/null 2>&1 || true
    rm -rf "$ceph_dir"
  fi
}
trap cleanup EXIT
# PostgreSQL and Ceph start side by side: each mostly waits for its daemons (17 and 40 s on the
# loaded shared machine, about 2 s of CPU between them), one after the other before.
pg_start=""
if [ -z "${ANDROMEDE_TEST_POSTGRES_URL:-}" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  pg_dir=$(mktemp -d /tmp/andromede-pg.XXXXXX)
  bash "$here/scripts/postgres-cluster.sh" start "$pg_dir" >/dev/null 2>"$log.pg" &
  pg_start=$!
fi
ceph_start=""
if [ -z "${ANDROMEDE_TEST_CEPH_CONF:-}" ] && command -v ceph-mon >/dev/null 2>&1; then
  # A short path: the daemons' unix sockets live under it.
  ceph_dir=$(mktemp -d /tmp/andromede-ceph.XXXXXX)
  bash "$here/scripts/ceph-cluster.sh" start "$ceph_dir" >/dev/null 2>"$ceph_dir/start.log" &
  ceph_start=$!
fi
if [ -n "$pg_start" ]; then
  # The script writes the URL it prints into the folder too (DIR/url).
  if wait "$pg_start" && [ -s "$pg_dir/url" ]; then
    ANDROMEDE_TEST_POSTGRES_URL=$(cat "$pg_dir/url")
    export ANDROMEDE_TEST_POSTGRES_URL
  else
    echo "run-tests: could not start PostgreSQL; its tests will start their own or skip" >&2
    cat "$log.pg" >&2
  fi
  rm -f "$log.pg"
fi
if [ -n "$ceph_start" ]; then
  if wait "$ceph_start"; then
    export ANDROMEDE_TEST_CEPH_CONF=$ceph_dir/ceph.conf
  else
    echo "run-tests: could not start Ceph (see below); its tests will start their own or skip" >&2
    tail -20 "$ceph_dir/start.log" >&2
  fi
fi
# The run's temporary folders in a new base directory of their own, removed after a run that
# passed and kept after one that failed (its servers' logs and data folders). Under pytest's
# own /tmp/pytest-of-<user> each run deletes the fourth newest run's folder at its end: what a
# run takes then depended on what ran on the machine before (decision 0118's addendum).
basetemp=""
case " $* " in
  *" --basetemp"*) ;;
  *)
    basetemp=$(mktemp -d /tmp/andromede-tests.XXXXXX)
    set -- --basetemp="$basetemp" "$@"
    ;;
esac
wait "$precompile" || true  # only a head start: the run itself compiles whatever it missed
"$here/.venv/bin/pytest" -p no:cacheprovider "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ -n "$basetemp" ]; then
  if [ "$status" -eq 0 ]; then
    rm -rf "$basetemp"
  else
    echo "run-tests: this run's temporary folders are kept in $basetemp" >&2
  fi
fi
if [ "$status" -eq 5 ]; then
  echo "run-tests: pytest collected no test" >&2
  exit 1
fi
if ! grep -Eq '[0-9]+ passed' "$log"; then
  echo "run-tests: no test passed" >&2
  [ "$status" -eq 0 ] && exit 1
fi
exit "$status"
