#!/usr/bin/env bash
# The end-to-end suite: imedge (memory store, and the default SQLite store),
# the reference servers of ../shared/peers and the ceiling forwarder
# (benches/src/bin/ceiling.rs) under the same loadgen scenarios, one system
# after another, in one invocation:
#
#   idle      15,000 idle connections: server RSS per connection
#   chat-max  single messages, 2,000 users, as fast as a 16-message window allows
#   room-max  room messages, 20 groups of 100 members, window of 4
#   latency   single messages, 2,000 users, at half the slowest chat-max
#
# Prints one table (deliveries/s, deliveries per server CPU-second, p50/p99/
# p999, RSS per connection, ratio to imedge, imedge's share of the ceiling)
# and writes benches/e2e/results/e2e-<date>.json and .svg.
#
#   benches/e2e/run.sh [--quick]
#
# --quick: a few seconds per row and fewer users; a smoke test of the whole
# chain, not figures to publish.
# Environment: PEERS_DIR (default ../shared/peers beside the repository),
# SYSTEMS (default: all, "imedge imedge-sqlite seed-go node-ws
# tokio-tungstenite fastwebsockets ceiling"), PORT (default 18180),
# RESULTS (default benches/e2e/results).
#
# Fairness, as learnt with the earlier compare.sh: the loadgen always runs on
# the epoll driver (MONOIO_FORCE_LEGACY_DRIVER=1) so only the server changes
# between rows; imedge and the ceiling use their default driver (io_uring
# when available); imedge's rate limit is lifted; every server starts fresh
# for every row; server CPU is its utime+stime over the traffic and drain.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/peers}"
SYSTEMS="${SYSTEMS:-imedge imedge-sqlite seed-go node-ws tokio-tungstenite fastwebsockets ceiling}"
PORT="${PORT:-18180}"
RESULTS="${RESULTS:-$ROOT/benches/e2e/results}"
QUICK=0
case "${1:-}" in
  "") ;;
  --quick) QUICK=1 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

if [ "$QUICK" = 1 ]; then
  IDLE_USERS=1500 IDLE_RAMP=1 IDLE_HOLD=2
  CHAT_USERS=200 ROOM_GROUPS=2 DURATION=2 DRAIN=3
else
  IDLE_USERS=15000 IDLE_RAMP=6 IDLE_HOLD=5
  CHAT_USERS=2000 ROOM_GROUPS=20 DURATION=10 DRAIN=5
fi
GROUP_SIZE=100
SECRET=e2e-suite-secret-0123456789abcdef
TARGET="$ROOT/target"
WORK="$TARGET/e2e"
BIN="$TARGET/release"
ROWS="$(mktemp -d "${TMPDIR:-/tmp}/imedge-e2e.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$ROWS"
}
trap cleanup EXIT
mkdir -p "$WORK" "$RESULTS"
# Servers and the loadgen may hold 15,000+ sockets each.
ulimit -n "$(ulimit -Hn)"

# ---------------------------------------------------------------- builds
declare -A SKIP=()
skip() { # system reason
  SKIP[$1]="$2"
  echo "skipping $1: $2" >&2
}

echo "building imedge, the loadgen, the ceiling and the report (release)" >&2
cargo build --release -q --manifest-path "$ROOT/Cargo.toml" \
  -p imedge -p imedge-loadgen -p imedge-benches --bins

build_peer() { # peer; fails with a message on stderr
  case "$1" in
    seed-go)
      local gocode=/usr/share/gocode/src/github.com need=(golang-go:go)
      [ -d "$gocode/gorilla/websocket" ] || need+=(golang-github-gorilla-websocket-dev)
      [ -d "$gocode/fatih/set" ] || need+=(golang-github-fatih-set-dev)
      "$ROOT/.ci/need" "${need[@]}" || { echo "Go and its packages could not be installed (golang-go, golang-github-gorilla-websocket-dev, golang-github-fatih-set-dev)" >&2; return 1; }
      mkdir -p "$WORK/seed-go" &&
        (cd "$PEERS_DIR/seed-go" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
        GOCACHE="$WORK/seed-go/cache" go build -o "$WORK/seed-go/seed-go" .) ;;
    node-ws)
      "$ROOT/.ci/need" nodejs:node npm || { echo "node and npm could not be installed" >&2; return 1; }
      # The peers directory is read-only: install ws into a copy of ours.
      # (set -e does not apply inside a `||` test: each step is chained.)
      mkdir -p "$WORK/node-ws" &&
        cp "$PEERS_DIR/node-ws/package.json" "$PEERS_DIR/node-ws/package-lock.json" \
          "$PEERS_DIR/node-ws/server.js" "$WORK/node-ws/" &&
        { [ -d "$WORK/node-ws/node_modules/ws" ] ||
          (cd "$WORK/node-ws" && npm ci --no-audit --no-fund --silent); } ;;
    tokio-tungstenite | fastwebsockets)
      CARGO_TARGET_DIR="$TARGET/peers" cargo build --release --locked -q \
        --manifest-path "$PEERS_DIR/Cargo.toml" -p "peer-$1" ;;
    *) echo "unknown system" >&2; return 1 ;;
  esac
}

for s in $SYSTEMS; do
  case "$s" in
    imedge | imedge-sqlite | ceiling) ;;
    *)
      [ -d "$PEERS_DIR/$s" ] || { skip "$s" "no $PEERS_DIR/$s"; continue; }
      echo "building $s" >&2
      err="$(build_peer "$s" 2>&1 >/dev/null)" || skip "$s" "build failed: $(tail -n 3 <<<"$err" | tr '\n' ' ')"
      ;;
  esac
done

# ---------------------------------------------------------------- servers
# Each server is exec'd in the background subshell, so $! is its own pid
# (for its CPU time and RSS).
start_server() { # system fanout -> sets SERVER_PID; server output in $ROWS/server.log
  local data="$ROWS/data-$1"
  rm -rf "$data"
  local imedge=("$BIN/imedge" serve --listen "127.0.0.1:$PORT" --secret "$SECRET"
    --data-dir "$data" --rate-limit 1000000 --rate-burst 1000000 --log warn)
  case "$1" in
    imedge) exec "${imedge[@]}" --store memory ;;
    imedge-sqlite) exec "${imedge[@]}" --store sqlite ;;
    ceiling) exec "$BIN/ceiling" --listen "127.0.0.1:$PORT" --fanout "$2" ;;
    seed-go) PORT=$PORT GROUP_SIZE=$GROUP_SIZE exec "$WORK/seed-go/seed-go" ;;
    node-ws) PORT=$PORT GROUP_SIZE=$GROUP_SIZE exec node "$WORK/node-ws/server.js" ;;
    *) PORT=$PORT GROUP_SIZE=$GROUP_SIZE exec "$TARGET/peers/release/peer-$1" ;;
  esac >"$ROWS/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# A server's io_uring can hold its listening socket a moment after the
# process is gone, and a new SO_REUSEPORT listener would share the port
# with it: wait until the port refuses connections.
stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || return 0
    sleep 0.1
  done
  echo "port $PORT still answers 10 s after the server stopped" >&2
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo null; }

json_str() { # a JSON string of $1 (or null when empty)
  if [ -z "$1" ]; then echo null; return; fi
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  # Newlines and tabs become blanks; other control bytes (invalid in JSON) go.
  printf '"%s"' "$(printf '%s' "$s" | tr '\n\t' '  ' | tr -d '\000-\037')"
}

N=0
run_row() { # scenario system loadgen-args...
  local scenario=$1 system=$2
  shift 2
  N=$((N + 1))
  local name
  name="$(printf '%02d' "$N")-$scenario-$system"
  local meta="$ROWS/$name.meta.json" base=null failed=""
  local fanout=pairs mode=()
  [ "$scenario" = room-max ] && fanout="groups:$GROUP_SIZE"
  case "$system" in
    imedge | imedge-sqlite) mode=(--secret "$SECRET") ;;
    ceiling) mode=(--peer --ceiling) ;;
    *) mode=(--peer) ;;
  esac
  if [ -n "${SKIP[$system]:-}" ]; then
    failed="${SKIP[$system]}"
  elif ! start_server "$system" "$fanout"; then
    failed="the server did not start: $(tail -n 3 "$ROWS/server.log" | tr '\n' ' ')"
    stop_server
  else
    base="$(rss_kib "$SERVER_PID")"
    printf '%-9s %-18s ' "$scenario" "$system" >&2
    local rc=0
    # The loadgen stops by itself; `timeout` only guards against a hang.
    MONOIO_FORCE_LEGACY_DRIVER=1 timeout 300 "$BIN/imedge-loadgen" "$@" "${mode[@]}" \
      --url "ws://127.0.0.1:$PORT/chat" --message-bytes 100 --drain "$DRAIN" \
      --target-pid "$SERVER_PID" --out "$ROWS/$name.json" --quiet \
      >"$ROWS/$name.log" 2>&1 || rc=$?
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      failed="the server exited during the run: $(tail -n 3 "$ROWS/server.log" | tr '\n' ' ')"
    elif [ "$rc" != 0 ]; then
      failed="the loadgen exited with $rc: $(tail -n 3 "$ROWS/$name.log" | tr '\n' ' ')"
    fi
    echo "${failed:-done}" >&2
    stop_server
  fi
  printf '{"scenario":"%s","system":"%s","baseline_rss_kib":%s,"failed":%s}\n' \
    "$scenario" "$system" "$base" "$(json_str "$failed")" >"$meta"
}

# ---------------------------------------------------------------- scenarios
for s in $SYSTEMS; do
  run_row idle "$s" connect --users "$IDLE_USERS" --ramp "$IDLE_RAMP" --duration "$IDLE_HOLD" \
    --src-ips 127.0.0.2-127.0.0.60 --workers auto
done
for s in $SYSTEMS; do
  run_row chat-max "$s" chat --users "$CHAT_USERS" --max --inflight 16 --duration "$DURATION"
done
for s in $SYSTEMS; do
  run_row room-max "$s" room --users $((ROOM_GROUPS * GROUP_SIZE)) --groups "$ROOM_GROUPS" \
    --group-size "$GROUP_SIZE" --max --inflight 4 --duration "$DURATION"
done
REPORT="$BIN/e2e-report"
if RATE="$("$REPORT" half-slowest --rows "$ROWS" --scenario chat-max)"; then
  for s in $SYSTEMS; do
    run_row latency "$s" chat --users "$CHAT_USERS" --rate "$RATE" --duration "$DURATION"
  done
  RATE_ARG=(--latency-rate "$RATE")
else
  echo "no chat-max row has figures: the latency rows are skipped" >&2
  RATE_ARG=()
fi

DATE="$(date -u +%F)"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
QUICK_ARG=()
# Quick runs are smoke tests: named apart, and ignored by git.
[ "$QUICK" = 1 ] && QUICK_ARG=(--quick) STAMP="quick-$STAMP"
"$REPORT" collect --rows "$ROWS" --out "$RESULTS/e2e-$STAMP.json" --svg "$RESULTS/e2e-$STAMP.svg" \
  --date "$DATE" --command "benches/e2e/run.sh $*" "${RATE_ARG[@]}" "${QUICK_ARG[@]}"
