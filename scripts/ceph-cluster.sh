#!/usr/bin/env bash
# A private single-node Ceph cluster in a folder: one mon, one mgr, one OSD, pools of size 1.
#
#   scripts/ceph-cluster.sh start DIR [options]   create (first time) or restart, wait until usable
#   scripts/ceph-cluster.sh stop DIR              stop the daemons (data stays in DIR)
#   scripts/ceph-cluster.sh status DIR            `ceph -s`; exit 1 when the cluster does not answer
#   scripts/ceph-cluster.sh env DIR               print the environment to use it
#
# Options of `start` (only used when DIR holds no cluster yet):
#   --objectstore memstore|bluestore   memstore (default): in RAM, fast, for tests;
#                                      bluestore: on a sparse file DIR/osd.0.block, durable
#   --memstore-bytes N     memstore capacity; past it writes fail with ENOSPC (default 4 GiB;
#                          Ceph's own default, 1 GiB, is too small for the large-blob tests)
#   --bluestore-bytes N    size of the sparse block file (default 20 GiB; only used blocks count)
#   --pools "a b c"        pools to create, size 1 (default: "andromede")
#
# For tests and operators' trials, never production: one OSD means no redundancy. Runs as root
# or as any user, without systemd: the daemons are started directly, daemonised, their pid files
# and sockets in DIR/run, their logs in DIR/log. Everything listens on 127.0.0.1 only (messenger
# v2), the monitor on a free port chosen at creation; cephx is on (radosgw needs it).
# Needs Debian's ceph-mon, ceph-mgr, ceph-osd and ceph-common (scripts/install-system-deps.sh).
set -euo pipefail

usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 2 ] || usage
command=$1
dir=$2
shift 2

objectstore=memstore
memstore_bytes=$((4 * 1024 * 1024 * 1024))
bluestore_bytes=$((20 * 1024 * 1024 * 1024))
pools="andromede"
while [ $# -gt 0 ]; do
  case "$1" in
    --objectstore) objectstore=$2; shift 2 ;;
    --memstore-bytes) memstore_bytes=$2; shift 2 ;;
    --bluestore-bytes) bluestore_bytes=$2; shift 2 ;;
    --pools) pools=$2; shift 2 ;;
    *) usage ;;
  esac
done
case "$objectstore" in memstore|bluestore) ;; *) echo "ceph-cluster: bad --objectstore $objectstore" >&2; exit 2 ;; esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/ceph.conf
admin_keyring=$dir/ceph.client.admin.keyring
client_keyring=$dir/ceph.client.andromede.keyring
# Every call names the conf and the admin key: an operator's own /etc/ceph is never touched.
ceph_cmd=(ceph --conf "$conf" --name client.admin --keyring "$admin_keyring" --connect-timeout 20)

log() { echo "ceph-cluster: $*" >&2; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A block of free consecutive ports for the mgr and OSD messengers (each binds a few):
# ceph retries the next port of the range when one is taken meanwhile.
free_port_range() {
  python3 - "$1" <<'EOF'
import random, socket, sys
count = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - count)
    sockets = []
    try:
        for port in range(base, base + count):
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            sockets.append(s)
    except OSError:
        continue
    finally:
        for s in sockets:
            s.close()
    print(base, base + count - 1)
    sys.exit(0)
sys.exit("no free port range")
EOF
}

write_conf() {
  local fsid=$1 mon_port=$2 port_min=$3 port_max=$4
  cat >"$conf" <<EOF
# Written by scripts/ceph-cluster.sh: a private single-node cluster, not for production.
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$mon_port
mon_initial_members = a
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_msgr2 = true
ms_bind_ipv6 = false
ms_bind_port_min = $port_min
ms_bind_port_max = $port_max
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false

run_dir = $dir/run
admin_socket = $dir/run/\$name.asok
pid_file = $dir/run/\$name.pid
log_file = $dir/log/\$name.log
crash_dir = $dir/crash
mon_data = $dir/\$name
mgr_data = $dir/\$name
osd_data = $dir/\$name
log_to_stderr = false
err_to_stderr = false
debug_ms = 0/0
debug_osd = 0/0
debug_mon = 1/1
debug_mgr = 1/1

# One OSD: pools of size 1 are the point, not a warning.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
# The data folder sits on a shared disk whose free share may be below the 30 % default.
mon_data_avail_warn = 1
mon_data_avail_crit = 0
mon_osd_full_ratio = 0.97
mon_osd_backfillfull_ratio = 0.95
mon_osd_nearfull_ratio = 0.93
# A client that dies without closing an RBD image (a QEMU killed, a host lost) keeps its watch,
# and with it the image's exclusive lock, until the OSD times the watch out: Ceph's 30 s held
# every such test that long before the volume could be removed or opened by another host
# (decision 0282). 10 s here, the clients pinging their watches every second (Ceph's 5 s tick
# would leave one late ping's margin). Production clusters keep Ceph's defaults.
osd_client_watch_timeout = 10
objecter_tick_interval = 1

[mon]
mon_cluster_log_file = $dir/log/cluster.log
# Modest CPU: the machines that run the tests have few cores.
mon_cpu_threads = 1
mon_warn_on_insecure_global_id_reclaim_allowed = false

[mgr]
# Only the always-on modules run (no dashboard, no prometheus, nothing that listens).
mgr_initial_modules =

[osd]
osd_objectstore = $objectstore
memstore_device_bytes = $memstore_bytes
bluestore_block_path = $dir/osd.0.block
bluestore_block_size = $bluestore_bytes
bluestore_block_create = true
bluestore_fsck_on_mkfs = false
bluestore_fsck_on_mount = false
osd_memory_target = 1073741824
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1
osd_max_object_size = 134217728
osd_crush_update_on_start = true

[client]
keyring = $admin_keyring
# Clients (tests, gateways, the ceph tool) start and stop by the hundred: no admin socket that
# two of them would fight over, one log per process.
admin_socket =
log_file = $dir/log/\$name.\$pid.log
EOF
}

running_pids() {
  # running_pids [PATTERN]: pids of the daemons whose pid file matches DIR/run/PATTERN.pid
  local pidfile pid
  for pidfile in "$dir"/run/${1:-*}.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "$pid"
    fi
  done
}

start_daemons() {
  mkdir -p "$dir/run" "$dir/log" "$dir/crash"
  # Daemons fork into the background themselves and write DIR/run/<name>.pid.
  ceph-mon --conf "$conf" --id a
  ceph-mgr --conf "$conf" --id x
  ceph-osd --conf "$conf" --id 0
}

create_cluster() {
  local fsid mon_port range port_min port_max secret osd_uuid
  fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  mon_port=$(free_port)
  range=$(free_port_range 40)
  port_min=${range% *}
  port_max=${range#* }
  mkdir -p "$dir/run" "$dir/log" "$dir/crash" "$dir/mon.a" "$dir/mgr.x" "$dir/osd.0"
  write_conf "$fsid" "$mon_port" "$port_min" "$port_max"

  log "creating cluster $fsid in $dir (mon on 127.0.0.1:$mon_port, $objectstore)"
  ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$admin_keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool "$dir/mon.keyring" --import-keyring "$admin_keyring" >/dev/null
  chmod 600 "$dir/mon.keyring" "$admin_keyring"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon --conf "$conf" --mkfs --id a --monmap "$dir/monmap" --keyring "$dir/mon.keyring"
  ceph-mon --conf "$conf" --id a

  "${ceph_cmd[@]}" auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$dir/mgr.x/keyring"
  ceph-mgr --conf "$conf" --id x

  osd_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  secret=$(ceph-authtool --gen-print-key)
  printf '{"cephx_secret": "%s"}' "$secret" |
    "${ceph_cmd[@]}" osd new "$osd_uuid" -i - >/dev/null
  ceph-authtool --create-keyring "$dir/osd.0/keyring" --name osd.0 --add-key "$secret" >/dev/null
  ceph-osd --conf "$conf" --id 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.log" 2>&1 || {
    cat "$dir/log/osd-mkfs.log" >&2
    return 1
  }
  ceph-osd --conf "$conf" --id 0

  # The gateway's own user: it may read the maps and read/write objects, nothing more.
  "${ceph_cmd[@]}" auth get-or-create client.andromede mon 'allow r' osd 'allow rw' \
    -o "$client_keyring"
  chmod 600 "$client_keyring"
  # Warnings that say "this is a test cluster" carry no information here.
  local pool
  for pool in $pools; do
    "${ceph_cmd[@]}" osd pool create "$pool" 8 8 replicated >/dev/null
    "${ceph_cmd[@]}" osd pool set "$pool" size 1 --yes-i-really-mean-it >/dev/null
    "${ceph_cmd[@]}" osd pool application enable "$pool" andromede >/dev/null
  done
  echo "$pools" >"$dir/pools"
  touch "$dir/.created"
}

wait_ready() {
  # Usable = an object can be written and removed in every pool (the OSD is up, its placement
  # groups are active). The rados tool answers as soon as that holds; no mgr statistics needed.
  local deadline=$((SECONDS + ${CEPH_CLUSTER_START_TIMEOUT:-120})) pool
  for pool in $pools; do
    until timeout 10 rados --conf "$conf" --name client.admin --keyring "$admin_keyring" \
      --pool "$pool" put .ceph-cluster-ready /dev/null 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        log "pool $pool in $dir not writable after ${CEPH_CLUSTER_START_TIMEOUT:-120} s; logs in $dir/log"
        timeout 20 "${ceph_cmd[@]}" -s >&2 || true
        return 1
      fi
      sleep 0.5
    done
    rados --conf "$conf" --name client.admin --keyring "$admin_keyring" --pool "$pool" \
      rm .ceph-cluster-ready
  done
}

print_env() {
  cat <<EOF
export CEPH_CONF=$conf
export CEPH_KEYRING=$client_keyring
export CEPH_USER=client.andromede
export CEPH_ADMIN_KEYRING=$admin_keyring
EOF
}

terminate() {
  # terminate PID...: SIGTERM, then SIGKILL whatever still runs after 10 s
  local pids=$* alive pid
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 100); do
    alive=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
    [ -z "$alive" ] && return 0
    sleep 0.1
  done
  log "killing$alive"
  # shellcheck disable=SC2086
  kill -KILL $alive 2>/dev/null || true
}

stop_daemons() {
  if [ -z "$(running_pids)" ]; then
    log "nothing running in $dir"
    return 0
  fi
  # The OSD first: stopping, it tells the monitor, and waits for it if the monitor is gone.
  local osds
  osds=$(running_pids 'osd.*')
  [ -z "$osds" ] || terminate $osds
  local others
  others=$(running_pids)
  [ -z "$others" ] || terminate $others
  rm -f "$dir"/run/*.pid
  log "stopped"
}

case "$command" in
  start)
    # A start that fails half-way leaves no daemon behind.
    started=0
    trap '[ "$started" = 1 ] || { log "start failed; logs in $dir/log"; stop_daemons; }' EXIT
    command -v ceph-mon >/dev/null || { log "ceph-mon not found (run scripts/install-system-deps.sh)"; exit 1; }
    if [ -n "$(running_pids)" ]; then
      log "already running in $dir"
    elif [ -e "$dir/.created" ]; then
      pools=$(cat "$dir/pools")
      start_daemons
    else
      create_cluster
    fi
    wait_ready
    started=1
    print_env | tee "$dir/env" >/dev/null
    print_env
    ;;
  stop)
    stop_daemons
    ;;
  status)
    [ -e "$conf" ] || { log "no cluster in $dir"; exit 1; }
    timeout 30 "${ceph_cmd[@]}" -s
    ;;
  env)
    print_env
    ;;
  *) usage ;;
esac
