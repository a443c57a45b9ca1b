#!/usr/bin/env bash
# Side-by-side comparison of imedge and the reference servers in
# ../shared/peers, one system after another, same loadgen and scenarios.
# Prints one line per (scenario, system) with deliveries/s, server CPU-s per
# million deliveries, delivery latency and the server's peak RSS.
#
#   benches/e2e/compare.sh [--quick]
#
# Environment: PEERS_DIR (default ../shared/peers beside the repository),
# SYSTEMS (default "imedge fastwebsockets tokio-tungstenite node-ws"),
# DURATION (seconds per run, default 8; --quick: 3).
# The loadgen runs on the epoll driver for every system, so that only the
# server changes between rows; imedge runs on its default (io_uring) driver.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/peers}"
SYSTEMS="${SYSTEMS:-imedge fastwebsockets tokio-tungstenite node-ws}"
DURATION="${DURATION:-8}"
[ "${1:-}" = "--quick" ] && DURATION=3
SECRET=compare-secret-0123456789
PORT="${PORT:-18180}"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/imedge-compare.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

cargo build --release -q -p imedge -p imedge-loadgen --manifest-path "$ROOT/Cargo.toml"
for s in $SYSTEMS; do
  [ "$s" = imedge ] || BUILD_ONLY=1 "$PEERS_DIR/run.sh" "$s" >/dev/null
done

start_server() { # system -> pid
  if [ "$1" = imedge ]; then
    "$ROOT/target/release/imedge" serve --listen "127.0.0.1:$PORT" --secret "$SECRET" \
      --store memory --data-dir "$OUT/data" --rate-limit 1000000 --rate-burst 1000000 \
      --log warn >/dev/null 2>&1 &
  else
    (cd "$PEERS_DIR" && PORT=$PORT GROUP_SIZE=100 BUILD=0 exec ./run.sh "$1") >/dev/null 2>&1 &
  fi
  echo $!
}

run() { # label system loadgen-args...
  local label=$1 sys=$2; shift 2
  local pid peer=""
  pid=$(start_server "$sys")
  [ "$sys" = imedge ] || peer=--peer
  sleep 1
  MONOIO_FORCE_LEGACY_DRIVER=1 "$ROOT/target/release/imedge-loadgen" "$@" --duration "$DURATION" \
    --message-bytes 100 --url "ws://127.0.0.1:$PORT/chat" --secret "$SECRET" $peer \
    --target-pid "$pid" --out "$OUT/r.json" >/dev/null 2>&1 || true
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  python3 - "$OUT/r.json" "$label" "$sys" <<'PY'
import json, sys
path, label, system = sys.argv[1:4]
try:
    r = json.load(open(path))
except Exception:
    print(f"{label:<22} {system:<18} run failed"); sys.exit()
m, c, lat = r["messages"], r["cpu"], r["latency_us"]["delivery"]
cpu = c.get("target_cpu_s_per_million_deliveries")
rss = c.get("target_rss_max_kib", 0) / 1024
print(f"{label:<22} {system:<18} {m['delivered_per_s']:>12,.0f} {cpu if cpu is not None else float('nan'):>10.2f} "
      f"{lat['p50']/1000:>9.2f} {lat['p99']/1000:>9.2f} {rss:>9.1f} {m['lost']:>8}")
PY
  rm -f "$OUT/r.json"
}

printf '%-22s %-18s %12s %10s %9s %9s %9s %8s\n' scenario system "deliv/s" "cpu-s/1M" "p50 ms" "p99 ms" "RSS MiB" lost
for s in $SYSTEMS; do run "chat 2k, 1 in flight" "$s" chat --users 2000 --max --inflight 1; done
for s in $SYSTEMS; do run "chat 2k, 16 in flight" "$s" chat --users 2000 --max --inflight 16; done
for s in $SYSTEMS; do run "room 100 x 20, max" "$s" room --users 2000 --groups 20 --group-size 100 --max --inflight 4; done
