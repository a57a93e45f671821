#!/usr/bin/env bash
# ceph-rgw.sh - a throwaway one-node Ceph cluster with N RADOS Gateways (S3) on 127.0.0.1,
# for s3x's tests, demo, benchmarks and CI.
#
#   scripts/ceph-rgw.sh up     [--dir DIR] [PORT ...]           start or reuse (default ports 7480 7481 7482)
#   scripts/ceph-rgw.sh down   [--dir DIR] [PORT ...] [--purge] no PORT: stop everything; PORTs: only those
#                                                               gateways (failover tests); --purge: also delete DIR
#   scripts/ceph-rgw.sh status [--dir DIR]                      print running gateways' URLs; exit 0 if the mon,
#                                                               the OSD and >= 1 gateway are up, else 3
#   scripts/ceph-rgw.sh env    [--dir DIR]                      print DIR/s3.env
#
#   eval "$(scripts/ceph-rgw.sh up)"   # stdout of `up` is exactly DIR/s3.env:
#       export AWS_ACCESS_KEY_ID=...  AWS_SECRET_ACCESS_KEY=...  AWS_REGION=us-east-1
#       export S3X_ENDPOINTS="http://127.0.0.1:7480 ..."  (running gateways, ascending port)
#       export CEPH_CONF=DIR/ceph.conf                     (ceph -s, radosgw-admin bucket list, ...)
#
# Environment (all optional):
#   S3X_CEPH_DIR          cluster directory when --dir is not given (default /tmp/s3x-ceph)
#   S3X_ACCESS_KEY        S3 access key (default S3XTESTACCESSKEY0001)
#   S3X_SECRET_KEY        S3 secret key (default s3xtestsecretkey00000000000000000000001)
#   S3X_CEPH_OSD_GB       OSD capacity in GiB, a sparse file (default 20)                     } read only when
#   S3X_CEPH_OBJECTSTORE  bluestore (default) | memstore (RAM only: lost whenever the OSD stops) } DIR's cluster
#   S3X_CEPH_MON_PORT     first port tried for the monitor (default 3300; next free one used)  } is created
#   S3X_CEPH_DEBUG_RGW    debug level of gateways started by this run (default 1/5: an access-log line per request)
#
# What it builds: one monitor, one OSD, pool size 1, no cephx (auth none), everything on 127.0.0.1 and
# everything (config, data, logs, pid files, sockets) inside DIR. Every gateway is a `radosgw` with a beast
# frontend in front of the same data, so N ports = N endpoints of one store. No mgr: `ceph -s` warns about
# that; S3 does not need it. Only processes whose command line carries `-c DIR/ceph.conf` are ever signalled.
# The Debian packages ceph-mon ceph-osd radosgw (and curl) are installed with apt-get when missing (root).
#
# Known RGW quirks worth remembering when testing against it: path-style addressing only;
# CompleteMultipartUpload answers an empty <ETag> (HeadObject/ListObjects give the right "...-N");
# CompleteMultipartUpload of an unknown/aborted upload id is a 500, not 404 NoSuchUpload; a streamed
# aws-chunked PutObject (SDK checksums WHEN_SUPPORTED) is refused with 411 MissingContentLength, so use
# WHEN_REQUIRED; x-amz-checksum-* headers are accepted but neither checked nor stored.
set -Eeuo pipefail
shopt -s nullglob
unset CEPH_ARGS CEPH_CONF # never let the caller's environment point our ceph commands elsewhere
export LC_ALL=C

PROG=ceph-rgw
T0=${EPOCHREALTIME//[!0-9]/}
MARK="# s3x scripts/ceph-rgw.sh cluster - generated; the fsid and mon port must stay as they are"
DEFAULT_PORTS=(7480 7481 7482)
S3USER=s3x

log() {
  local us=$((${EPOCHREALTIME//[!0-9]/} - T0))
  printf '[%s %3d.%ds] %s\n' "$PROG" $((us / 1000000)) $((us % 1000000 / 100000)) "$*" >&2
}
die() { printf '%s: ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
usage() {
  cat <<'EOF'
usage: scripts/ceph-rgw.sh up     [--dir DIR] [PORT ...]            start or reuse (default ports 7480 7481 7482)
       scripts/ceph-rgw.sh down   [--dir DIR] [PORT ...] [--purge]  stop all (or only those gateways); --purge deletes DIR
       scripts/ceph-rgw.sh status [--dir DIR]                       running gateways' URLs; exit 0 if usable, 3 if not
       scripts/ceph-rgw.sh env    [--dir DIR]                       print DIR/s3.env
DIR defaults to ${S3X_CEPH_DIR:-/tmp/s3x-ceph}. Typical use: eval "$(scripts/ceph-rgw.sh up)"
EOF
}
usage_error() { printf '%s: %s\n' "$PROG" "$*" >&2; usage >&2; exit 2; }
# shellcheck disable=SC2154 # rc is set inside the trap
trap 'rc=$?; die "command failed (exit $rc) at line $LINENO: $BASH_COMMAND (logs in ${LOGD:-DIR/log})"' ERR

# ------------------------------------------------------------------------------------------- arguments
[ $# -ge 1 ] || usage_error "missing command"
CMD=$1; shift
case $CMD in
  up | down | status | env) ;;
  -h | --help | help) usage; exit 0 ;;
  *) usage_error "unknown command '$CMD'" ;;
esac
D=${S3X_CEPH_DIR:-/tmp/s3x-ceph}
PORTS=()
PURGE=0
while [ $# -gt 0 ]; do
  case $1 in
    --dir) [ $# -ge 2 ] || usage_error "--dir needs a value"; D=$2; shift 2 ;;
    --dir=*) D=${1#--dir=}; shift ;;
    --purge) [ "$CMD" = down ] || usage_error "--purge only goes with down"; PURGE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      [[ $1 =~ ^[0-9]{1,5}$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)) || usage_error "bad port '$1'"
      [ "$CMD" = up ] || [ "$CMD" = down ] || usage_error "$CMD takes no PORT"
      PORTS+=($((10#$1))); shift ;;
  esac
done
[ -n "$D" ] || usage_error "empty DIR"
D=$(realpath -m -- "$D")
[[ $D =~ ^/[A-Za-z0-9._/@+,:-]*$ ]] || usage_error "DIR may only contain A-Z a-z 0-9 . _ / @ + , : - ($D)"
[ $PURGE = 0 ] || [ ${#PORTS[@]} -eq 0 ] || usage_error "--purge stops the whole cluster: give no PORT with it"
[ ${#PORTS[@]} -eq 0 ] || mapfile -t PORTS < <(printf '%s\n' "${PORTS[@]}" | sort -nu)

AK=${S3X_ACCESS_KEY:-S3XTESTACCESSKEY0001}
SK=${S3X_SECRET_KEY:-s3xtestsecretkey00000000000000000000001}
OSD_GB=${S3X_CEPH_OSD_GB:-20}
STORE=${S3X_CEPH_OBJECTSTORE:-bluestore}
MON_PORT0=${S3X_CEPH_MON_PORT:-3300}
if [ "$CMD" = up ]; then
  [[ $AK =~ ^[A-Za-z0-9._+=/-]{3,128}$ ]] || usage_error "S3X_ACCESS_KEY: 3-128 of A-Z a-z 0-9 . _ + = / -"
  [[ $SK =~ ^[A-Za-z0-9._+=/-]{8,128}$ ]] || usage_error "S3X_SECRET_KEY: 8-128 of A-Z a-z 0-9 . _ + = / -"
  [[ $OSD_GB =~ ^[1-9][0-9]{0,5}$ ]] || usage_error "S3X_CEPH_OSD_GB must be a whole number of GiB ($OSD_GB)"
  [[ $STORE =~ ^(bluestore|memstore)$ ]] || usage_error "S3X_CEPH_OBJECTSTORE must be bluestore or memstore"
  [[ $MON_PORT0 =~ ^[1-9][0-9]{0,4}$ ]] && ((MON_PORT0 < 65000)) || usage_error "bad S3X_CEPH_MON_PORT"
fi

CONF=$D/ceph.conf
RUN=$D/run
LOGD=$D/log
ENVF=$D/s3.env

# ---------------------------------------------------------------------------------------------- helpers
# Is DIR one of ours? (its ceph.conf starts with our marker line)
dir_is_ours() {
  local first=
  [ -f "$CONF" ] && IFS= read -r first <"$CONF" && [ "$first" = "$MARK" ]
}
# Entries this script creates in DIR; anything else there means DIR is not (only) ours.
is_our_entry() {
  case $1 in
    ceph.conf | ceph.conf.tmp | s3.env | s3.env.tmp* | monmap | mon.a | osd.0 | osd.0.uuid | rgw.rgw.* | run | log | crash | .lock | \
      .pools_done | .user_done) return 0 ;;
  esac
  return 1
}
foreign_entries() {
  local e out=()
  for e in "$D"/* "$D"/.[!.]* "$D"/..?*; do is_our_entry "${e##*/}" || out+=("${e##*/}"); done
  if [ ${#out[@]} -gt 6 ]; then echo "${out[*]:0:5} and $((${#out[@]} - 5)) more"; else echo "${out[*]}"; fi
}

# PID[name] = pid of every live ceph-mon / ceph-osd / radosgw started with `-c $CONF` (exact argument),
# found from /proc (pid files can be stale or missing). Names: mon.a, osd.0, client.rgw.PORT.
declare -A PID=()
scan() {
  PID=()
  local p i name id n conf mkfs
  local -a argv
  for p in /proc/[0-9]*; do
    mapfile -d '' -t argv 2>/dev/null <"$p/cmdline" || continue
    [ ${#argv[@]} -ge 3 ] || continue
    case ${argv[0]##*/} in ceph-mon | ceph-osd | radosgw) ;; *) continue ;; esac
    conf='' id='' n='' mkfs=0
    for ((i = 1; i < ${#argv[@]}; i++)); do
      case ${argv[i]} in
        -c | --conf) conf=${argv[i + 1]:-} ;;
        -i | --id) id=${argv[i + 1]:-} ;;
        -n | --name) n=${argv[i + 1]:-} ;;
        --mkfs) mkfs=1 ;;
      esac
    done
    [ "$conf" = "$CONF" ] && [ $mkfs = 0 ] || continue
    case ${argv[0]##*/} in
      ceph-mon) name=mon.$id ;;
      ceph-osd) name=osd.$id ;;
      radosgw) name=$n ;;
    esac
    PID[$name]=${p#/proc/}
  done
}
names_like() { # GLOB: names of our running daemons matching it
  local k
  # shellcheck disable=SC2053 # $1 is a glob on purpose
  for k in "${!PID[@]}"; do if [[ $k == $1 ]]; then echo "$k"; fi; done | sort -V
}
running_gateway_ports() { # ascending
  local k
  for k in "${!PID[@]}"; do if [[ $k == client.rgw.* ]]; then echo "${k#client.rgw.}"; fi; done | sort -n
}

# Does anything (any address, IPv4 or IPv6) listen on TCP port $1?
listening() {
  local hex
  printf -v hex ':%04X' "$1"
  awk -v h="$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
http_code() {
  curl -s --noproxy '*' -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null || true
}
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

cephc() { ceph -c "$CONF" --connect-timeout 30 "$@" 2>>"$LOGD/ceph-cli.log" </dev/null; }

conf_get() { awk -F ' = ' -v k="$1" '$1 == k { print $2; exit }' "$CONF"; }

# Is process $1 alive? A zombie counts as gone: it has exited and let go of its ports and files, it
# only waits for its parent (pid 1 here, as our daemons detach) to reap it, which can take seconds.
alive() {
  local st
  { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
  st=${st##*) }
  [ "${st:0:1}" != Z ]
}

# SIGTERM the named daemons together, wait up to 20 s, SIGKILL what is left.
stop_daemons() {
  local i n pid left deadline killed=0
  local -a pids=() names=()
  for n in "$@"; do
    pid=${PID[$n]:-}
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid"); names+=("$n")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  deadline=$(($(now_us) + 20000000))
  while :; do
    left=()
    for i in "${!pids[@]}"; do if alive "${pids[i]}"; then left+=("$i"); fi; done
    [ ${#left[@]} -gt 0 ] || break
    if (($(now_us) > deadline)); then
      [ $killed = 0 ] || die "${names[left[0]]} (pid ${pids[left[0]]}) survived SIGKILL (see $LOGD/${names[left[0]]}.log)"
      for i in "${left[@]}"; do
        log "${names[i]} ignored SIGTERM for 20 s: SIGKILL"
        kill -KILL "${pids[i]}" 2>/dev/null || true
      done
      killed=1
      deadline=$(($(now_us) + 10000000))
    fi
    sleep 0.05
  done
  for n in "${names[@]}"; do rm -f "$RUN/$n.pid"; unset "PID[$n]"; done
  log "stopped ${names[*]}"
}

write_env() {
  local urls=() p
  for p in $(running_gateway_ports); do urls+=("http://127.0.0.1:$p"); done
  {
    echo "export AWS_ACCESS_KEY_ID=$AK"
    echo "export AWS_SECRET_ACCESS_KEY=$SK"
    echo "export AWS_REGION=us-east-1"
    echo "export S3X_ENDPOINTS=\"${urls[*]}\""
    echo "export CEPH_CONF=$CONF"
  } >"$ENVF.tmp.$$"
  mv -f "$ENVF.tmp.$$" "$ENVF"
}

lock_dir() { # serialise concurrent up/down on one DIR (fd 9 is closed for every daemon we start)
  exec 9>"$D/.lock"
  flock -n 9 && return 0
  log "waiting for another $PROG run on $D to finish"
  flock -w 600 9 || die "another $PROG run on $D has held $D/.lock for 10 min"
}

# ------------------------------------------------------------------------------------------- packages
ensure_packages() {
  local need=() c
  for c in ceph-mon ceph-osd radosgw ceph monmaptool radosgw-admin; do
    command -v "$c" >/dev/null || { need=(ceph-mon ceph-osd radosgw); break; }
  done
  command -v curl >/dev/null || need+=(curl)
  [ ${#need[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || die "missing ${need[*]}: run as root, or apt-get install ${need[*]}"
  command -v apt-get >/dev/null || die "missing ${need[*]} and no apt-get to install them"
  local alog=$LOGD/apt.log
  export DEBIAN_FRONTEND=noninteractive
  log "installing ${need[*]} with apt-get (~30 s, log: $alog)"
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt-get update -qq >>"$alog" 2>&1 </dev/null 9>&- || die "apt-get update failed (see $alog)"
  fi
  local inst=(apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef
    -o Dpkg::Options::=--force-confold "${need[@]}")
  if ! "${inst[@]}" >>"$alog" 2>&1 </dev/null 9>&-; then # stale package lists? refresh once
    apt-get update -qq >>"$alog" 2>&1 </dev/null 9>&- || die "apt-get update failed (see $alog)"
    "${inst[@]}" >>"$alog" 2>&1 </dev/null 9>&- || die "apt-get install ${need[*]} failed (see $alog)"
  fi
  for c in ceph-mon ceph-osd radosgw ceph monmaptool radosgw-admin curl; do
    command -v "$c" >/dev/null || die "$c still missing after apt-get install ${need[*]} (see $alog)"
  done
  log "installed ${need[*]}"
}

# ------------------------------------------------------------------------------------------------- up
write_conf() {
  local port=$MON_PORT0 fsid bytes
  while listening "$port"; do
    port=$((port + 1))
    ((port < MON_PORT0 + 200)) || die "no free monitor port in $MON_PORT0..$((port - 1))"
  done
  fsid=$(cat /proc/sys/kernel/random/uuid)
  bytes=$((OSD_GB * 1024 * 1024 * 1024))
  cat >"$CONF.tmp" <<EOF
$MARK
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$port]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
# no cephx at all: every daemon and client is on loopback
auth cluster required = none
auth service required = none
auth client required = none
# without this, daemons ask the mon for a 'secure' connection that auth=none cannot give,
# and radosgw hangs for 300 s (get_initial_auth_request returned -13)
ms mon client mode = crc
# everything stays inside DIR
run dir = $RUN
pid file = $RUN/\$name.pid
log file = $LOGD/\$name.log
mon cluster log file = default=$LOGD/cluster.\$channel.log cluster=$LOGD/cluster.log
crash dir = $D/crash
mon data = $D/mon.\$id
osd data = $D/osd.\$id
client mount timeout = 60
# commit monitor changes after 20 ms instead of 1 s: each pool creation, OSD registration or boot
# is a commit, so cluster creation takes ~1.5 s instead of ~15 s (one mon, nothing to agree with)
paxos propose interval = 0.02
paxos min wait = 0.01
# one OSD: pools of size 1, few PGs, no placement across hosts, no redundancy warnings
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
# a test box may have little free disk: do not let the mon refuse to run
mon data avail warn = 2
mon data avail crit = 1
osd objectstore = $STORE
osd memory target = 1073741824
osd fast shutdown = true
# the block device's aio thread polls every 250 ms, and every close of the device waits for it: an OSD
# start opens and closes the device ~10 times (~2.5 s). 20 ms polls cost nothing measurable.
bdev aio poll ms = 20
# bluestore on a sparse file at its default place, DIR/osd.0/block (an explicit
# 'bluestore block path' inside the OSD dir fails with ELOOP)
bluestore block create = true
bluestore block size = $bytes
memstore device bytes = $bytes

[client]
rgw data = $D/rgw.\$id
debug rgw = 1/5
# reclaim deleted/overwritten data after a minute rather than hours
rgw gc obj min wait = 60
rgw gc processor period = 60
# server-side encryption for the object-header tests (issue 13): SSE-C over plain HTTP (loopback
# only), and SSE-KMS with RGW's 'testing' backend, whose keys are read at start only (a test
# key, not a secret: this cluster is throwaway). AES256 (SSE-S3) is accepted and ignored by 16.
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = s3x-test-key=czN4IHRlc3Qga21zIGtleSwgMzIgYnl0ZXMgbG9uZyE=
EOF
  mv -f "$CONF.tmp" "$CONF"
  log "new cluster: $CONF (mon port $port, $STORE, OSD ${OSD_GB} GiB)"
}

# memstore keeps objects in the OSD's memory only: once that OSD has stopped, the monitor describes
# data that no longer exists. Start the cluster over (same DIR, conf and ports).
reset_lost_memstore() {
  [ "$(conf_get 'osd objectstore')" = memstore ] && [ -e "$D/osd.0/.done" ] && [ -z "${PID[osd.0]:-}" ] || return 0
  log "the memstore OSD stopped, so its data is gone: re-creating the cluster"
  local gws=()
  mapfile -t gws < <(names_like 'client.*')
  stop_daemons "${gws[@]}"
  stop_daemons mon.a
  rm -rf "$D/mon.a" "$D/osd.0" "$D/osd.0.uuid" "$D/monmap" "$D/.pools_done" "$D/.user_done" "$ENVF" "$D"/rgw.rgw.*
}

start_mon() {
  local port
  port=$(sed -n 's/^mon host = \[v2:127\.0\.0\.1:\([0-9]*\)\]$/\1/p' "$CONF")
  [ -n "$port" ] || die "cannot read the mon port from $CONF"
  if [ ! -e "$D/mon.a/.done" ]; then
    rm -rf "$D/mon.a"; mkdir -p "$D/mon.a"
    monmaptool --create --clobber --fsid "$(conf_get fsid)" --addv a "[v2:127.0.0.1:$port]" "$D/monmap" \
      >>"$LOGD/mon.a.mkfs.log" 2>&1 || die "monmaptool failed (see $LOGD/mon.a.mkfs.log)"
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$D/monmap" </dev/null >>"$LOGD/mon.a.mkfs.log" 2>&1 9>&- ||
      die "ceph-mon --mkfs failed (see $LOGD/mon.a.mkfs.log)"
    touch "$D/mon.a/.done"
  fi
  [ -z "${PID[mon.a]:-}" ] || return 0
  ! listening "$port" || die "mon port $port (in $CONF) is taken by a process not started from this conf"
  ceph-mon -c "$CONF" -i a </dev/null >>"$LOGD/mon.a.out" 2>&1 9>&- ||
    die "ceph-mon failed to start (see $LOGD/mon.a.log and $LOGD/mon.a.out)"
  local deadline=$(($(now_us) + 20000000))
  until listening "$port"; do
    (($(now_us) < deadline)) || die "mon not listening on 127.0.0.1:$port after 20 s (see $LOGD/mon.a.log)"
    sleep 0.05
  done
  log "mon.a started (127.0.0.1:$port)"
}

# Registers osd.0 and starts its mkfs in the background (MKFS_PID); prepare_osd_finish waits for it.
MKFS_PID=
prepare_osd_start() {
  [ ! -e "$D/osd.0/.done" ] || return 0
  [ -s "$D/osd.0.uuid" ] || cat /proc/sys/kernel/random/uuid >"$D/osd.0.uuid"
  local uuid id
  uuid=$(cat "$D/osd.0.uuid")
  id=$(cephc osd new "$uuid") || die "'ceph osd new' failed (see $LOGD/ceph-cli.log and $LOGD/mon.a.log)"
  [ "$id" = 0 ] || die "expected OSD id 0, the monitor gave '$id' (see $LOGD/mon.a.log)"
  rm -rf "$D/osd.0"; mkdir -p "$D/osd.0"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" </dev/null >"$LOGD/osd.0.mkfs.log" 2>&1 9>&- &
  MKFS_PID=$!
}
prepare_osd_finish() {
  [ -n "$MKFS_PID" ] || return 0
  wait "$MKFS_PID" || die "ceph-osd --mkfs failed (see $LOGD/osd.0.mkfs.log and $LOGD/osd.0.log)"
  touch "$D/osd.0/.done"
  log "osd.0 created ($(conf_get 'osd objectstore'))"
}

# RGW creates its pools lazily, and then the first bucket / PUT / multipart upload each stall ~2 s.
create_pools() {
  [ ! -e "$D/.pools_done" ] || return 0
  local spec p n cmds="" out missing=()
  local specs=(.rgw.root:8 default.rgw.control:8 default.rgw.meta:8 default.rgw.log:8
    default.rgw.buckets.index:16 default.rgw.buckets.data:32 default.rgw.buckets.non-ec:8)
  for spec in "${specs[@]}"; do
    p=${spec%%:*}; n=${spec##*:}
    cmds+="osd pool create $p $n $n"$'\n'"osd pool application enable $p rgw"$'\n'
  done
  cmds+="osd pool ls"$'\n'
  out=$(printf '%s' "$cmds" | ceph -c "$CONF" --connect-timeout 30 2>>"$LOGD/ceph-cli.log") || true
  for spec in "${specs[@]}"; do grep -qxF "${spec%%:*}" <<<"$out" || missing+=("${spec%%:*}"); done
  [ ${#missing[@]} -eq 0 ] || die "could not create pools ${missing[*]} (see $LOGD/ceph-cli.log)"
  touch "$D/.pools_done"
  log "rgw pools created"
}

start_osd() {
  OSD_STARTED=0
  [ -z "${PID[osd.0]:-}" ] || return 0
  OSD_LOG_SIZE=$(stat -c %s "$LOGD/osd.0.log" 2>/dev/null || echo 0)
  ceph-osd -c "$CONF" -i 0 </dev/null >>"$LOGD/osd.0.out" 2>&1 9>&- ||
    die "ceph-osd failed to start (see $LOGD/osd.0.log and $LOGD/osd.0.out)"
  OSD_STARTED=1
  log "osd.0 started"
}
# The OSD logs 'state: booting -> active' once the monitor has marked it up: watching the log is much
# cheaper than polling `ceph osd stat` (a Python start each time); the latter is the fallback.
wait_osd_up() {
  [ "$OSD_STARTED" = 1 ] || return 0
  local deadline=$(($(now_us) + 90000000)) i=0
  while :; do
    if tail -c +$((OSD_LOG_SIZE + 1)) "$LOGD/osd.0.log" 2>/dev/null | grep -q 'state: booting -> active'; then break; fi
    i=$((i + 1))
    if ((i % 20 == 0)); then
      if cephc osd stat -f json | grep -q '"num_up_osds":1'; then break; fi
      scan
      [ -n "${PID[osd.0]:-}" ] || die "ceph-osd exited while starting (see $LOGD/osd.0.log)"
    fi
    (($(now_us) < deadline)) || die "osd.0 not up after 90 s (see $LOGD/osd.0.log)"
    sleep 0.1
  done
  log "osd.0 up"
}

start_gateways() { # PORT...
  local p fe started=() extra=()
  if [ -n "${S3X_CEPH_DEBUG_RGW:-}" ]; then extra=(--debug-rgw "$S3X_CEPH_DEBUG_RGW"); fi
  for p in "$@"; do
    [ -z "${PID[client.rgw.$p]:-}" ] || continue
    ! listening "$p" || die "port $p is taken by a process not started from $CONF"
    mkdir -p "$D/rgw.rgw.$p"
    fe="beast endpoint=127.0.0.1:$p tcp_nodelay=1" # without tcp_nodelay small replies stall ~40 ms
    radosgw -c "$CONF" -n "client.rgw.$p" --rgw-frontends "$fe" "${extra[@]}" </dev/null >>"$LOGD/client.rgw.$p.out" 2>&1 9>&- ||
      die "radosgw on port $p failed to start (see $LOGD/client.rgw.$p.log)"
    started+=("$p")
  done
  [ ${#started[@]} -eq 0 ] || log "radosgw starting on ${started[*]}"
}
wait_gateways() { # PORT...
  local pending=("$@") still p deadline=$(($(now_us) + 90000000)) i=0
  while [ ${#pending[@]} -gt 0 ]; do
    still=()
    for p in "${pending[@]}"; do [ "$(http_code "$p")" = 200 ] || still+=("$p"); done
    [ ${#still[@]} -gt 0 ] || break
    pending=("${still[@]}")
    i=$((i + 1))
    if ((i % 5 == 0)); then
      scan
      for p in "${pending[@]}"; do
        [ -n "${PID[client.rgw.$p]:-}" ] || die "radosgw on port $p exited (see $LOGD/client.rgw.$p.log)"
      done
    fi
    (($(now_us) < deadline)) || die "radosgw on port ${pending[0]} not answering after 90 s (see $LOGD/client.rgw.${pending[0]}.log)"
    sleep 0.1
  done
}

# The S3 user with fixed keys. Runs in the background (USER_PID) while the gateways come up.
USER_PID=
ensure_user_start() {
  local want="$AK $SK" have=
  if [ -f "$D/.user_done" ]; then have=$(<"$D/.user_done"); fi
  [ "$have" != "$want" ] || return 0
  (
    exec 9>&- </dev/null >>"$LOGD/radosgw-admin.out" 2>&1
    ra() { radosgw-admin -c "$CONF" "$@"; }
    if ra user info --uid="$S3USER" >/dev/null; then
      ra key create --uid="$S3USER" --key-type=s3 --access-key="$AK" --secret-key="$SK" >/dev/null
    else
      ra user create --uid="$S3USER" --display-name="s3x test user" --access-key="$AK" --secret-key="$SK" >/dev/null
    fi
    printf '%s\n' "$want" >"$D/.user_done"
  ) &
  USER_PID=$!
}
ensure_user_finish() {
  [ -n "$USER_PID" ] || return 0
  wait "$USER_PID" || die "could not create the S3 user '$S3USER' (see $LOGD/radosgw-admin.out)"
  log "S3 user '$S3USER' has access key $AK"
}

cmd_up() {
  [ ${#PORTS[@]} -gt 0 ] || PORTS=("${DEFAULT_PORTS[@]}")
  if [ -d "$D" ] && ! dir_is_ours; then
    local foreign
    foreign=$(foreign_entries)
    [ -z "$foreign" ] || die "$D exists and is not a $PROG cluster dir (it holds: $foreign); choose another --dir"
  fi
  mkdir -p "$D"
  lock_dir
  mkdir -p "$RUN" "$LOGD"
  ensure_packages
  [ -f "$CONF" ] || write_conf
  scan
  reset_lost_memstore

  start_mon
  prepare_osd_start # osd new + mkfs in the background...
  create_pools      # ...while the monitor creates the pools
  prepare_osd_finish
  start_osd
  start_gateways "${PORTS[@]}" # they wait for the OSD by themselves
  wait_osd_up
  ensure_user_start
  scan
  local all
  mapfile -t all < <(running_gateway_ports)
  wait_gateways "${all[@]}"
  ensure_user_finish

  write_env
  mapfile -t all < <(running_gateway_ports)
  log "ready: ${#all[@]} gateway(s) on 127.0.0.1 port(s) ${all[*]}"
  {
    echo "  S3 endpoints: ${all[*]/#/http://127.0.0.1:}  (path-style only, any region)"
    echo "  credentials:  $AK / $SK"
    echo "  env file:     . $ENVF     ceph CLI: ceph -c $CONF -s"
    echo "  stop:         $0 down --dir $D [PORT ...] [--purge]"
  } >&2
  cat "$ENVF"
}

# ----------------------------------------------------------------------------------------------- down
# Why DIR must not be deleted (empty output: it may be).
purge_refusal() {
  local foreign
  case $D in
    / | /tmp | /var/tmp | /dev/shm | /root | /home | /var | /usr | /etc | /opt | /srv | /mnt | /media | /run | /work)
      echo "it is a system directory"; return ;;
  esac
  [[ $D =~ ^/[^/]+/[^/] ]] || { echo "it is a top-level directory"; return; }
  [ "$D" != "$(realpath -m -- "${HOME:-/}")" ] || { echo "it is the home directory"; return; }
  foreign=$(foreign_entries)
  [ -z "$foreign" ] || echo "it holds files $PROG did not create: $foreign"
}

cmd_down() {
  if [ ! -d "$D" ]; then
    log "nothing to do: $D does not exist"
    return 0
  fi
  local why p names=()
  if [ $PURGE = 1 ]; then # decide before stopping anything
    why=$(purge_refusal)
    [ -z "$why" ] || die "refusing to purge $D: $why"
  fi
  if ! dir_is_ours; then
    [ ! -e "$CONF" ] || die "$CONF was not written by $PROG: not touching $D"
    # no config: nothing can be running from here (e.g. an 'up' that failed early)
    if [ $PURGE = 1 ]; then rm -rf -- "$D"; log "purged $D"; else log "no cluster in $D"; fi
    return 0
  fi
  lock_dir
  scan
  if [ ${#PORTS[@]} -gt 0 ]; then
    for p in "${PORTS[@]}"; do
      if [ -n "${PID[client.rgw.$p]:-}" ]; then names+=("client.rgw.$p"); else log "no gateway running on port $p"; fi
    done
    stop_daemons "${names[@]}"
    [ ! -f "$ENVF" ] || write_env # S3X_ENDPOINTS = the gateways still running
    return 0
  fi
  mapfile -t names < <(names_like 'client.*')
  stop_daemons "${names[@]}" # gateways first: they unregister from the cluster on the way out
  mapfile -t names < <(names_like 'osd.*')
  stop_daemons "${names[@]}"
  mapfile -t names < <(names_like 'mon.*')
  stop_daemons "${names[@]}"
  log "cluster in $D is down"
  [ $PURGE = 1 ] || return 0
  scan
  [ ${#PID[@]} -eq 0 ] || die "not purging $D: daemons still running (${!PID[*]})"
  rm -rf -- "$D"
  log "purged $D"
}

# --------------------------------------------------------------------------------------- status / env
cmd_status() {
  if [ ! -f "$CONF" ]; then
    log "no cluster in $D"
    exit 3
  fi
  scan
  local p ok=0 up=() down=() mon osd
  mon=${PID[mon.a]:+running (pid ${PID[mon.a]})}
  osd=${PID[osd.0]:+running (pid ${PID[osd.0]})}
  for p in $(running_gateway_ports); do
    if [ "$(http_code "$p")" = 200 ]; then
      echo "http://127.0.0.1:$p"
      up+=("$p")
    else
      down+=("$p(not answering)")
    fi
  done
  for p in "$D"/rgw.rgw.*; do
    p=${p##*/rgw.rgw.}
    [ -n "${PID[client.rgw.$p]:-}" ] || down+=("$p(stopped)")
  done
  log "$D: mon.a ${mon:-stopped}, osd.0 ${osd:-stopped}, gateways up: ${up[*]:-none}${down[*]:+, down: ${down[*]}}"
  [ -n "$mon" ] && [ -n "$osd" ] && [ ${#up[@]} -gt 0 ] && ok=1
  [ $ok = 1 ] || exit 3
}

cmd_env() {
  [ -f "$ENVF" ] || die "no $ENVF: start the cluster first ($0 up --dir $D)"
  cat "$ENVF"
}

case $CMD in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
esac
