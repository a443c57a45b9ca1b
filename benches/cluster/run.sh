#!/usr/bin/env bash
# Cluster figures in one invocation (issues 5 and 6), each part on a fresh
# local cluster (nginx/local-cluster.sh) on loopback:
#
#   a  same-node vs cross-node: A_NODES nodes (memory store), chat --max
#      --inflight 16 with --pairs same-node, then --pairs cross-node, same
#      users and duration, straight to the nodes (--url per node and
#      --ring-config, no nginx): deliveries/s, node CPU-seconds per 1M
#      deliveries (utime+stime summed over the node processes, traffic and
#      drain), delivery p50/p99, and cluster datagrams sent per cross-node
#      delivery (imedge_cluster_datagrams_out_total summed over the nodes'
#      /metrics, before and after; heartbeats included).
#   b  Redis: 1 node, then 3 nodes, each on a fresh redis-server (appendonly
#      yes, appendfsync everysec), chat --max --inflight 16 with fixed
#      pairs, straight to the nodes: acked/s and ack p99.
#   c  C_USERS users through nginx (C_NGINX_WORKERS workers with reuseport)
#      over C_NODES single-threaded nodes (C_STORE: memory, or redis for one
#      shared redis-server): connect rate and
#      time, then chat at C_RATE msg/s with fixed pairs for C_DURATION s:
#      delivery p50/p99, cross-node share, lost (must be 0), and the largest
#      RSS of the nodes and of nginx's workers over the baseline, per user.
#
#   benches/cluster/run.sh [--quick]
#
# Prints one table and writes benches/cluster/results/cluster-<UTC time>.json
# (--quick: cluster-quick-*.json, ignored by git; a smoke run of a minute or
# two, not figures to publish).
# Environment: PARTS (default "a b c": the parts to run), RESULTS (default
# benches/cluster/results), PORT_BASE (19100;
# each cluster takes 40 ports above it), and the sizes below (A_NODES,
# A_USERS, A_DURATION, B_USERS, B_DURATION, C_NODES, C_USERS, C_RATE,
# C_DURATION, C_RAMP, C_NGINX_WORKERS, C_WORKER_CONNECTIONS, C_STORE).
#
# Conventions of benches/e2e/run.sh: the loadgen runs on the epoll driver
# (MONOIO_FORCE_LEGACY_DRIVER=1), the nodes on their default driver, with
# the rate limit lifted. One more, for more processes than CPUs: the
# loadgen runs with --cpus none, and the nodes (--threads 1, fewer threads
# than CPUs) do not pin themselves; the kernel spreads everything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RESULTS="${RESULTS:-$ROOT/benches/cluster/results}"
PORT_BASE="${PORT_BASE:-19100}"
PARTS="${PARTS:-a b c}"
QUICK=0
case "${1:-}" in
  "") ;;
  --quick) QUICK=1 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

if [ "$QUICK" = 1 ]; then
  : "${A_NODES:=3}" "${A_USERS:=200}" "${A_DURATION:=3}"
  : "${B_USERS:=200}" "${B_DURATION:=3}"
  : "${C_NODES:=3}" "${C_USERS:=3000}" "${C_RATE:=2000}" "${C_DURATION:=5}" "${C_RAMP:=2}"
  : "${C_NGINX_WORKERS:=2}" "${C_WORKER_CONNECTIONS:=8000}"
else
  : "${A_NODES:=3}" "${A_USERS:=2000}" "${A_DURATION:=15}"
  : "${B_USERS:=2000}" "${B_DURATION:=15}"
  : "${C_NODES:=8}" "${C_USERS:=100000}" "${C_RATE:=5000}" "${C_DURATION:=40}" "${C_RAMP:=40}"
  : "${C_NGINX_WORKERS:=12}" "${C_WORKER_CONNECTIONS:=19000}"
fi
: "${C_STORE:=memory}"
DRAIN=10
BIN="$ROOT/target/release"
LC="$ROOT/nginx/local-cluster.sh"
RUN="$(mktemp -d "${TMPDIR:-/tmp}/imedge-cluster-bench.XXXXXX")"
CPUS="$(nproc)"
CLUSTERS=()
LOADGEN_PID=""
cleanup() {
  local rc=$?
  if [ -n "$LOADGEN_PID" ]; then kill "$LOADGEN_PID" 2>/dev/null || true; fi
  local d
  for d in ${CLUSTERS[@]+"${CLUSTERS[@]}"}; do
    IMEDGE_BIN="$BIN/imedge" "$LC" down --dir "$d" >/dev/null 2>&1 || true
  done
  # A failed run keeps its logs (loadgen, nodes, nginx) for a look.
  if [ "$rc" = 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$RUN"; else echo "logs kept in $RUN" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$RESULTS"
ulimit -n "$(ulimit -Hn)"
"$ROOT/.ci/need" nginx redis-server curl jq

echo "building imedge and the loadgen (release)" >&2
cargo build --release -q --manifest-path "$ROOT/Cargo.toml" -p imedge -p imedge-loadgen --bins

# ---------------------------------------------------------------- clusters
BLOCK=0
up() { # name nodes store [local-cluster options...]: starts a cluster in $RUN/name
  local name=$1 nodes=$2 store=$3 base=$((PORT_BASE + 40 * BLOCK))
  shift 3
  BLOCK=$((BLOCK + 1))
  local dir="$RUN/$name"
  CLUSTERS+=("$dir")
  IMEDGE_BIN="$BIN/imedge" "$LC" up "$nodes" --dir "$dir" --store "$store" \
    --http-base "$base" --udp-base $((base + 16)) --nginx-port $((base + 32)) \
    --redis-port $((base + 33)) --threads 1 "$@" \
    -- --rate-limit 1000000 --rate-burst 1000000 --log warn >"$RUN/$name.up.log" 2>&1 ||
    { cat "$RUN/$name.up.log" >&2; return 1; }
  # Wait until every node sees every other up (heartbeats).
  local i
  for i in $(seq 100); do
    [ "$(metric_sum "$dir" imedge_cluster_peer_up)" = $((nodes * nodes)) ] && return 0
    [ "$nodes" = 1 ] && return 0
    sleep 0.2
  done
  echo "the nodes of $name do not all see each other up" >&2
  return 1
}

down() { # name
  IMEDGE_BIN="$BIN/imedge" "$LC" down --dir "$RUN/$1" >/dev/null
}

node_pids() { # dir
  local f
  for f in "$1"/node-*.pid; do cat "$f"; done | paste -sd' '
}

node_urls() { # dir -> ws://.../chat,...
  local f
  for f in "$1"/node-*.url; do sed 's|^http://|ws://|; s|$|/chat|' "$f"; done | paste -sd,
}

secret_of() { # dir: the nodes' token secret, from the generated config
  sed -n 's/^secret = "\(.*\)"$/\1/p' "$1/cluster.toml" | head -n 1
}

metric_sum() { # dir name: the metric summed over every node and label
  local f total=0 v
  for f in "$1"/node-*.url; do
    v="$(curl -s -m 5 "$(cat "$f")/metrics" |
      awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d", s }')"
    total=$((total + v))
  done
  echo "$total"
}

cpu_ticks() { # pids...: utime+stime summed, in clock ticks
  local p total=0 v
  for p in "$@"; do
    v="$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)"
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# Noise: the machine's busy CPU over a row, less what the row's own
# processes used (the cluster's nodes, nginx and redis, and this script's
# reaped children: the loadgen with its workers, curl), is other work's.
busy_ticks() { # all CPUs: user nice system irq softirq, and steal apart
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat
}

own_ticks() { # dir: the cluster's processes plus this shell's reaped children
  local pids
  pids="$(node_pids "$1") $(cat "$1/nginx.pid" 2>/dev/null) $(pgrep -P "$(cat "$1/nginx.pid" 2>/dev/null || echo 0)" | paste -sd' ') $(cat "$1/redis.pid" 2>/dev/null)"
  # shellcheck disable=SC2086
  echo $(($(cpu_ticks $pids) + $(awk '{ print $16 + $17 }' /proc/$$/stat)))
}

rss_kib() { # pids...: VmRSS summed
  local p total=0 v
  for p in "$@"; do
    v="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)"
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

nginx_workers() { # dir: pids of nginx's workers
  pgrep -P "$(cat "$1/nginx.pid")" | paste -sd' '
}

# ---------------------------------------------------------------- loadgen
ROWS=0
loadgen() { # row cluster timeout args...: runs the loadgen against the
  # cluster in $RUN/cluster; its report in $RUN/row.json, our figures in
  # $RUN/row.ours.json
  local row=$1 dir=$RUN/$2 limit=$3 rc=0
  shift 3
  printf '%-22s ' "$row" >&2
  local d0 i0 b0 st0 o0 w0=$EPOCHREALTIME
  d0="$(metric_sum "$dir" imedge_cluster_datagrams_out_total)"
  i0="$(metric_sum "$dir" imedge_cluster_items_out_total)"
  read -r b0 st0 < <(busy_ticks)
  o0="$(own_ticks "$dir")"
  MONOIO_FORCE_LEGACY_DRIVER=1 timeout "$limit" "$BIN/imedge-loadgen" "$@" \
    --message-bytes 100 --drain "$DRAIN" --cpus none --quiet \
    --out "$RUN/$row.json" >"$RUN/$row.log" 2>&1 &
  LOADGEN_PID=$!
  # Largest RSS of the processes in $WATCH_NODES / $WATCH_NGINX while it
  # runs, and nginx's CPU ticks each second (for its share of the traffic
  # window, which only the loadgen's report dates).
  local max_nodes=0 max_nginx=0 v t0=$EPOCHREALTIME
  : >"$RUN/$row.nginx-cpu"
  while kill -0 "$LOADGEN_PID" 2>/dev/null; do
    if [ -n "${WATCH_NODES:-}" ]; then
      # shellcheck disable=SC2086
      v="$(rss_kib $WATCH_NODES)"; [ "$v" -gt "$max_nodes" ] && max_nodes=$v
      # shellcheck disable=SC2086
      v="$(rss_kib $WATCH_NGINX)"; [ "$v" -gt "$max_nginx" ] && max_nginx=$v
      # shellcheck disable=SC2086
      echo "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }') $(cpu_ticks $WATCH_NGINX)" \
        >>"$RUN/$row.nginx-cpu"
    fi
    sleep 1
  done
  wait "$LOADGEN_PID" || rc=$?
  LOADGEN_PID=""
  echo "$max_nodes $max_nginx" >"$RUN/$row.rss"
  if [ "$rc" != 0 ]; then
    echo "failed ($rc): $(tail -n 3 "$RUN/$row.log" | tr '\n' ' ')" >&2
    return 1
  fi
  local d1 i1 b1 st1 o1 w1=$EPOCHREALTIME
  read -r b1 st1 < <(busy_ticks)
  o1="$(own_ticks "$dir")"
  d1="$(metric_sum "$dir" imedge_cluster_datagrams_out_total)"
  i1="$(metric_sum "$dir" imedge_cluster_items_out_total)"
  jq -n --argjson d $((d1 - d0)) --argjson i $((i1 - i0)) \
    --argjson c "$(jq '.messages.cross_node_deliveries' "$RUN/$row.json")" \
    --argjson busy $((b1 - b0)) --argjson steal $((st1 - st0)) --argjson own $((o1 - o0)) \
    --argjson hz "$(getconf CLK_TCK)" --argjson cpus "$CPUS" \
    --argjson wall "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" \
    '{datagrams_out: $d, items_out: $i,
      datagrams_per_cross_node_delivery: (if $c > 0 then $d / $c else null end),
      noise: {wall_s: $wall, machine_busy_s: ($busy / $hz), steal_s: ($steal / $hz),
        row_processes_s: ($own / $hz), other_s: (($busy - $own) / $hz),
        other_share_of_machine: (($busy - $own) / $hz / $wall / $cpus)}}' \
    >"$RUN/$row.ours.json"
  jq -r '"\(.messages.delivered_per_s | floor) deliveries/s, lost \(.messages.lost)"' "$RUN/$row.json" >&2
}

# One row of the summary: the loadgen's figures and ours.
row_json() { # row part extra-json
  ROWS=$((ROWS + 1))
  jq --argjson ours "$(cat "$RUN/$1.ours.json")" --arg row "$1" --arg part "$2" --argjson extra "$3" '{
      row: $row, part: $part,
      users: .config.users, pairs: .config.pairs,
      connected: .connect.connected, connect_failed: .connect.failed,
      connect_s: .connect.phase_s, connects_per_s: .connect.per_s,
      upgrade_p99_us: .connect.handshake_latency_us.p99,
      sent: .messages.sent, acked: .messages.acked, delivered: .messages.delivered,
      lost: .messages.lost, rejected: .messages.rejected, unresolved: .messages.unresolved,
      run_s: .messages.run_s,
      deliveries_per_s: .messages.delivered_per_s,
      acked_per_s: (if .messages.run_s > 0 then .messages.acked / .messages.run_s else null end),
      cross_node_share: .messages.cross_node_share,
      cross_node_deliveries: .messages.cross_node_deliveries,
      delivery_p50_us: .latency_us.delivery.p50, delivery_p99_us: .latency_us.delivery.p99,
      ack_p50_us: .latency_us.ack.p50, ack_p99_us: .latency_us.ack.p99,
      node_cpu_s: .cpu.target_cpu_s,
      node_cpu_s_per_million_deliveries: .cpu.target_cpu_s_per_million_deliveries,
      loadgen_cpu_s: .cpu.loadgen_cpu_s
    } + $ours + $extra' "$RUN/$1.json" >"$RUN/$(printf %02d "$ROWS").row.json"
}

# ------------------------------------------------- a: same vs cross node
part() { [[ " $PARTS " == *" $1 "* ]]; }

if part a; then
  echo "a: same-node vs cross-node, $A_NODES nodes, $A_USERS users, ${A_DURATION}s each" >&2
  up a "$A_NODES" memory
  for pairs in same-node cross-node; do
    loadgen "a-$pairs" a 300 chat --users "$A_USERS" --max --inflight 16 \
      --duration "$A_DURATION" --pairs "$pairs" --secret "$(secret_of "$RUN/a")" \
      --url "$(node_urls "$RUN/a")" --ring-config "$RUN/a/cluster.toml" \
      --target-pid "$(node_pids "$RUN/a" | tr ' ' ,)"
    row_json "a-$pairs" a '{}'
  done
  down a
fi

# ------------------------------------------------- b: Redis, 1 vs 3 nodes
if part b; then
  for n in 1 3; do
    echo "b: redis, $n node(s), $B_USERS users, ${B_DURATION}s" >&2
    up "b$n" "$n" redis
    loadgen "b-redis-$n-node" "b$n" 300 chat --users "$B_USERS" --max --inflight 16 \
      --duration "$B_DURATION" --secret "$(secret_of "$RUN/b$n")" \
      --url "$(node_urls "$RUN/b$n")" --ring-config "$RUN/b$n/cluster.toml" \
      --target-pid "$(node_pids "$RUN/b$n" | tr ' ' ,)"
    row_json "b-redis-$n-node" b "{\"nodes\": $n}"
    down "b$n"
  done
fi

# ------------------------------------------------- c: many users via nginx
if part c; then
  echo "c: $C_USERS users ($C_STORE store) through nginx ($C_NGINX_WORKERS workers) over $C_NODES nodes, $C_RATE msg/s for ${C_DURATION}s" >&2
  per_node=$((C_USERS / C_NODES * 6 / 5 + 1000))
  up c "$C_NODES" "$C_STORE" --max-connections "$per_node" \
    --nginx-workers "$C_NGINX_WORKERS" --worker-connections "$C_WORKER_CONNECTIONS"
  WATCH_NODES="$(node_pids "$RUN/c")"
  WATCH_NGINX="$(nginx_workers "$RUN/c")"
  # shellcheck disable=SC2086
  base_nodes="$(rss_kib $WATCH_NODES)" base_nginx="$(rss_kib $WATCH_NGINX)"
  loadgen c-many-users c 900 chat --users "$C_USERS" --rate "$C_RATE" --duration "$C_DURATION" \
    --ramp "$C_RAMP" --connect-timeout 30 --workers auto --src-ips 127.0.0.2-127.0.0.60 \
    --secret "$(secret_of "$RUN/c")" --nginx "$(sed 's|^http://|ws://|; s|$|/chat|' "$RUN/c/nginx.url")" \
    --ring-config "$RUN/c/cluster.toml" --target-pid "$(node_pids "$RUN/c" | tr ' ' ,)"
  read -r max_nodes max_nginx <"$RUN/c-many-users.rss"
  # nginx's CPU from the first sample after the connect phase to the last one.
  nginx_cpu="$(awk -v from="$(jq '.connect.phase_s' "$RUN/c-many-users.json")" -v hz="$(getconf CLK_TCK)" '
    $1 >= from && !t0 { t0 = $1; c0 = $2 } { t1 = $1; c1 = $2 }
    END { if (t0 && t1 > t0) printf "{\"seconds\": %.1f, \"cpu_s\": %.2f}", t1 - t0, (c1 - c0) / hz; else printf "null" }' \
    "$RUN/c-many-users.nginx-cpu")"
  WATCH_NODES="" WATCH_NGINX=""
  # Every user's first message costs more than the next ones (store and
  # connection state made on first use): the latency once every user has
  # sent once, from the loadgen's per-second points, is given apart.
  steady="$(jq '[.timeline[] | select(.phase == "run")] as $run
    | ($run[0].t_s + .config.users / .config.rate) as $from
    | [$run[] | select(.t_s >= $from)]
    | if length == 0 then null else {
        after_s: (($from - $run[0].t_s) * 10 | round / 10), seconds: length,
        p50_us_median: (map(.p50_us) | sort | .[length / 2 | floor]),
        p99_us_median: (map(.p99_us) | sort | .[length / 2 | floor]),
        p99_us_max: (map(.p99_us) | max)} end' "$RUN/c-many-users.json")"
  row_json c-many-users c "$(jq -n --argjson steady "$steady" --arg store "$C_STORE" --argjson n "$C_NODES" --argjson w "$C_NGINX_WORKERS" \
    --argjson u "$C_USERS" --argjson bn "$base_nodes" --argjson mn "$max_nodes" \
    --argjson bg "$base_nginx" --argjson mg "$max_nginx" --argjson nc "$nginx_cpu" '{
      nodes: $n, nginx_workers: $w, store: $store, nginx_cpu_after_connect: $nc,
      after_every_user_sent: $steady,
      nodes_rss_kib: {baseline: $bn, max: $mn, per_user: (($mn - $bn) / $u)},
      nginx_rss_kib: {baseline: $bg, max: $mg, per_user: (($mg - $bg) / $u)}}')"
  down c
fi

# ---------------------------------------------------------------- summary
STAMP="$(date -u +%Y%m%d-%H%M%S)"
[ "$QUICK" = 1 ] && STAMP="quick-$STAMP"
OUT="$RESULTS/cluster-$STAMP.json"
jq -s --arg date "$(date -u +%F)" --arg command "benches/cluster/run.sh $*" \
  --arg machine "$(nproc) CPUs, $(uname -r), $(free -g | awk '/^Mem:/ { print $2 }') GiB, open files $(ulimit -Hn)" \
  --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
  '{date: $date, command: $command, machine: $machine, load_at_end: $load, rows: .}' \
  "$RUN"/*.row.json >"$OUT"
jq -r '
  def n(x): if x == null then "-" else (x * 10 | round / 10 | tostring) end;
  def ms(x): if x == null then "-" else (x / 100 | round / 10 | tostring) end;
  ["row", "deliveries/s", "acked/s", "node CPU-s/1M", "p50 ms", "p99 ms", "ack p99 ms", "cross-node", "datagrams/cross", "lost", "other work"],
  (.rows[] | [.row, n(.deliveries_per_s), n(.acked_per_s), n(.node_cpu_s_per_million_deliveries),
    ms(.delivery_p50_us), ms(.delivery_p99_us), ms(.ack_p99_us), n(.cross_node_share),
    (if .datagrams_per_cross_node_delivery == null then "-" else (.datagrams_per_cross_node_delivery * 1000 | round / 1000 | tostring) end),
    (.lost | tostring),
    ((.noise.other_share_of_machine * 100 | round | tostring) + "%")]) | @tsv' "$OUT" | column -t -s $'\t'
jq -r '.rows[] | select(.part == "c") |
  "c: \(.connected)/\(.users) connected in \(.connect_s * 10 | round / 10) s (\(.connects_per_s | round)/s, \(.connect_failed) failed, upgrade p99 \(.upgrade_p99_us / 1000) ms); " +
  "after every user sent once (from \(.after_every_user_sent.after_s // "-") s): per-second p50 median \(.after_every_user_sent.p50_us_median // "-") us, p99 median \(.after_every_user_sent.p99_us_median // "-") us, max \(.after_every_user_sent.p99_us_max // "-") us; " +
  "RSS per user: nodes \(.nodes_rss_kib.per_user * 10 | round / 10) KiB, nginx \(.nginx_rss_kib.per_user * 10 | round / 10) KiB; " +
  "CPU over the traffic and drain: nodes \(.node_cpu_s * 10 | round / 10) s, nginx \(.nginx_cpu_after_connect.cpu_s // "-") s (over \(.nginx_cpu_after_connect.seconds // "-") s), loadgen \(.loadgen_cpu_s * 10 | round / 10) s"' "$OUT"
echo "written: $OUT" >&2
