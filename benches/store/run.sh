#!/usr/bin/env bash
# Store figures of issue 3 in one invocation, each on a fresh server:
#
#   acks   memory, sqlite and redis (one redis-server, appendonly yes,
#          appendfsync everysec), one after another, ROUNDS times:
#          imedge-loadgen chat --users 2000 --max --inflight 16, 100-byte
#          messages: acked/s, ack p99, server CPU-s per 1M acked messages
#          and the store thread's CPU per message (utime+stime per thread).
#   sync   sqlite and memory: 10,000 messages stored for an offline user,
#          then replayed to it by the push at connect and by a cmd 30
#          (benches/store/sync.py, a Python websockets client that is
#          likely the limit).
#
#   benches/store/run.sh [--quick]
#
# Prints the figures and keeps them in benches/store/results/store-<UTC
# time>.txt (--quick: 3 s runs, store-quick-*.txt, not figures to publish).
# Environment: ROUNDS (2), PORT (18850), REDIS_PORT (16390). The loadgen
# runs on epoll (MONOIO_FORCE_LEGACY_DRIVER=1) and the rate limit is lifted,
# as in benches/e2e/run.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROUNDS="${ROUNDS:-2}"
PORT="${PORT:-18850}"
REDIS_PORT="${REDIS_PORT:-16390}"
DURATION=10
TAG=store
case "${1:-}" in
  "") ;;
  --quick) DURATION=3; ROUNDS=1; TAG=store-quick ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
SECRET=bench-secret-0123456789abcdef
BIN="$ROOT/target/release"
RUN="$(mktemp -d "${TMPDIR:-/tmp}/imedge-store-bench.XXXXXX")"
REDIS_PID=""
SERVER_PID=""
cleanup() {
  local rc=$?
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
  if [ "$rc" = 0 ]; then rm -rf "$RUN"; else echo "logs kept in $RUN" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$ROOT/.ci/need" redis-server python3 curl
echo "building imedge and the loadgen (release)" >&2
cargo build --release -q --manifest-path "$ROOT/Cargo.toml" -p imedge -p imedge-loadgen --bins
VENV="$ROOT/target/bench-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import websockets' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q websockets==17.4
fi

serve() { # store: starts the daemon on a fresh data dir
  local data="$RUN/data-$RANDOM"
  mkdir -p "$data"
  "$BIN/imedge" serve --listen "127.0.0.1:$PORT" --secret "$SECRET" --store "$1" \
    --data-dir "$data" --log warn --rate-limit 1000000 --rate-burst 1000000 \
    --retention-messages "$2" >"$data/log" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$data/log" >&2
  return 1
}

stop() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

threads() { # per-thread CPU ticks of the server, "name ticks" lines
  local t
  for t in /proc/"$SERVER_PID"/task/*; do
    echo "$(cat "$t/comm") $(awk '{print $14+$15}' "$t/stat")"
  done
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes \
  --appendfsync everysec --dir "$RUN" --daemonize no >"$RUN/redis.log" 2>&1 &
REDIS_PID=$!
for i in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

OUT="$RUN/figures.txt"
{
  echo "imedge store suite, $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores, Linux $(uname -r)"
  echo "chat --users 2000 --max --inflight 16 --duration $DURATION --message-bytes 100"
  printf '%-8s %-6s %10s %12s %14s %16s\n' store round acked/s "ack p99 ms" "CPU-s per 1M" "store thread us"
} | tee "$OUT"
for round in $(seq "$ROUNDS"); do
  for store in memory sqlite "redis://127.0.0.1:$REDIS_PORT"; do
    serve "$store" 1000
    threads >"$RUN/t0"
    MONOIO_FORCE_LEGACY_DRIVER=1 "$BIN/imedge-loadgen" chat --users 2000 --max --inflight 16 \
      --duration "$DURATION" --ramp 2 --message-bytes 100 --url "ws://127.0.0.1:$PORT/chat" \
      --secret "$SECRET" --out "$RUN/report.json" >"$RUN/loadgen.log" 2>&1
    threads >"$RUN/t1"
    stop
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    python3 - "$RUN/report.json" "$RUN/t0" "$RUN/t1" "${store%%:*}" "$round" "$DURATION" <<'PY' | tee -a "$OUT"
import collections, json, sys
report, t0, t1, store, rnd, secs = sys.argv[1:]
m = json.load(open(report))
acked = m["messages"]["acked"]
def ticks(path):
    c = collections.Counter()
    for line in open(path):
        name, v = line.rsplit(None, 1)
        c[name] += int(v)
    return c
a, b = ticks(t0), ticks(t1)
total = sum(b[k] - a[k] for k in b) / 100
store_s = sum(b[k] - a[k] for k in b if k in ("imedge-store", "imedge-redis")) / 100
print("%-8s %-6s %10s %12.0f %14.2f %16s" % (
    store, rnd, format(round(acked / float(secs)), ","),
    m["latency_us"]["ack"]["p99"] / 1000, total / max(acked, 1) * 1e6,
    "%.2f" % (store_s / acked * 1e6) if store_s else "-"))
PY
  done
done
for store in sqlite memory; do
  serve "$store" 20000
  echo "sync, $store: $("$VENV/bin/python" "$ROOT/benches/store/sync.py" "$PORT" "$SECRET" "$BIN/imedge" 10000)" | tee -a "$OUT"
  stop
done
mkdir -p "$ROOT/benches/store/results"
cp "$OUT" "$ROOT/benches/store/results/$TAG-$(date -u +%Y%m%d-%H%M%S).txt"
