#!/usr/bin/env bash
# A local imedge cluster on loopback: N nodes, nginx in front (the shape of
# nginx/imedge.conf, upstream list generated), and optionally redis-server.
#
#   nginx/local-cluster.sh up N [options]   start N nodes, nginx (and redis)
#   nginx/local-cluster.sh status [--dir D] every process and its /healthz
#   nginx/local-cluster.sh down [--dir D]   stop everything `up` started
#
# Options of `up`:
#   --store memory|redis  the nodes' store (default memory). With `memory`
#                         each node's store is its own (a down node's users
#                         get 503 until it returns); `redis` shares one
#                         redis-server (failover), started
#                         with appendonly yes + appendfsync everysec (at most
#                         one second of acknowledged messages lost on a crash
#                         of the machine, none on a crash of redis alone).
#   --http-base P         node i serves WebSocket/HTTP on 127.0.0.1:P+i-1 (9001)
#   --udp-base P          node i's cluster UDP port is P+i-1 (7001)
#   --nginx-port P        nginx listens on 127.0.0.1:P (8080)
#   --redis-port P        redis-server's port with --store redis (6390)
#   --threads T           the nodes' worker threads (default: the daemon's,
#                         one per core)
#   --max-connections C   connections per node before 503 (default: the
#                         daemon's, 19000; each takes one fd, and the
#                         open-files limit applies per process)
#   --nginx-workers W     nginx worker processes (1); above 1 the listener
#                         gets `reuseport` (an accept queue per worker, so
#                         the kernel spreads connections evenly by hash)
#   --worker-connections M  per nginx worker (4096); a proxied WebSocket
#                         holds 2 (client and node side), so M/2 users per
#                         worker, and M must stay under the open-files limit
#   -- FLAGS...           the rest goes to every node's `imedge serve`, e.g.
#                         -- --rate-limit 1000000 --rate-burst 1000000
# Common option: --dir D, the state directory (default ./local-cluster):
# config with generated secrets, logs, pid files, redis data.
# IMEDGE_BIN=path uses that imedge binary instead of a release build.
# nginx and redis-server are installed through .ci/need when missing.
# 100,000 users with a 20,000 open-files limit per process:
#   up 8 --threads 1 --nginx-workers 12 --worker-connections 19000
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

usage() {
    sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

die() {
    echo "local-cluster: $*" >&2
    exit 1
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
n=0
if [ "$cmd" = up ]; then
    n=${1:-}
    [[ "$n" =~ ^[1-9][0-9]?$ ]] || die "up needs a node count from 1 to 99, got '${n}'"
    shift
fi
dir=$PWD/local-cluster
store=memory
http_base=9001
udp_base=7001
nginx_port=8080
redis_port=6390
threads=""
max_connections=""
nginx_workers=1
worker_connections=4096
serve_flags=()
while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then
        shift
        serve_flags=("$@")
        break
    fi
    [ $# -ge 2 ] || die "option $1 needs a value"
    case $1 in
        --threads) threads=$2 ;;
        --max-connections) max_connections=$2 ;;
        --nginx-workers) nginx_workers=$2 ;;
        --worker-connections) worker_connections=$2 ;;
        --dir) dir=$2 ;;
        --store) store=$2 ;;
        --http-base) http_base=$2 ;;
        --udp-base) udp_base=$2 ;;
        --nginx-port) nginx_port=$2 ;;
        --redis-port) redis_port=$2 ;;
        *) die "unknown option $1 (see: $0 help)" ;;
    esac
    shift 2
done
for p in "$http_base" "$udp_base" "$nginx_port" "$redis_port"; do
    [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad port '$p'"
done
case $store in memory | redis) ;; *) die "--store must be memory or redis, got '$store'" ;; esac
for v in "$nginx_workers" "$worker_connections" ${threads:+"$threads"} ${max_connections:+"$max_connections"}; do
    [[ "$v" =~ ^[0-9]+$ ]] || die "not a count: '$v'"
done
[ "$nginx_workers" -ge 1 ] || die "--nginx-workers must be at least 1"

# Is the process in pid file $1 alive?
alive() {
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# HTTP status of GET $1, or 000.
http_status() {
    curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" || true
}

# Stops the process in pid file $1 (TERM, then KILL after 10 s).
stop() {
    local pidfile=$1 pid i
    alive "$pidfile" || { rm -f "$pidfile"; return 0; }
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

down() {
    [ -d "$dir" ] || { echo "nothing to stop in $dir"; return 0; }
    # nginx first, so no new connection reaches a stopping node.
    stop "$dir/nginx.pid"
    for f in "$dir"/node-*.pid; do
        [ -e "$f" ] && stop "$f"
    done
    stop "$dir/redis.pid"
    echo "stopped (state kept in $dir)"
}

status() {
    [ -d "$dir" ] || die "no cluster in $dir"
    local bad=0 seen=0 f name code
    for f in "$dir"/redis.pid "$dir"/node-*.pid "$dir"/nginx.pid; do
        [ -e "$f" ] || continue
        seen=1
        name=$(basename "$f" .pid)
        if alive "$f"; then
            printf '%-8s pid %-8s running' "$name" "$(cat "$f")"
        else
            printf '%-8s %-12s stopped' "$name" ""
            bad=1
        fi
        if [ -e "$dir/$name.url" ]; then
            code=$(http_status "$(cat "$dir/$name.url")/healthz")
            printf '  /healthz %s' "$code"
            [ "$code" = 200 ] || bad=1
        fi
        echo
    done
    [ $seen = 1 ] || { echo "nothing runs in $dir"; return 1; }
    return $bad
}

up() {
    [ ! -e "$dir/nginx.pid" ] || ! alive "$dir/nginx.pid" || die "a cluster already runs in $dir (run: $0 down --dir $dir)"
    local need=(nginx curl)
    [ "$store" = redis ] && need+=(redis-server)
    "$root/.ci/need" "${need[@]}"
    local bin=${IMEDGE_BIN:-}
    if [ -z "$bin" ]; then
        (cd "$root" && cargo build --release -p imedge --quiet)
        bin=$root/target/release/imedge
    fi
    [ -x "$bin" ] || die "no imedge binary at $bin"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    rm -f "$dir"/*.url

    local store_url=memory
    if [ "$store" = redis ]; then
        mkdir -p "$dir/redis"
        # appendonly + everysec: each write is in the append-only file within
        # a second; `save ""` turns off RDB snapshots, which AOF makes redundant.
        redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir/redis" \
            --appendonly yes --appendfsync everysec --save "" \
            --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
        for _ in $(seq 100); do
            [ -s "$dir/redis.pid" ] && redis_ok && break
            sleep 0.1
        done
        redis_ok || die "redis-server did not start (see $dir/redis.log)"
        store_url=redis://127.0.0.1:$redis_port
    fi

    # Secrets: generated once per state dir, kept across up/down.
    local conf=$dir/cluster.toml i
    if [ ! -e "$conf" ] || ! grep -qx "# nodes $n http $http_base udp $udp_base" "$conf"; then
        local secret cluster_secret
        secret=$(head -c 32 /dev/urandom | base64 | tr -d '/+=')
        cluster_secret=$(head -c 32 /dev/urandom | base64 | tr -d '/+=')
        {
            echo "# Generated by nginx/local-cluster.sh; every node reads it with its --node-id."
            echo "# nodes $n http $http_base udp $udp_base"
            echo "secret = \"$secret\""
            echo
            echo "[cluster]"
            echo "secret = \"$cluster_secret\""
            for i in $(seq "$n"); do
                echo
                echo "[[cluster.nodes]]"
                echo "id = $i"
                echo "server = \"127.0.0.1:$((http_base + i - 1))\""
                echo "udp = \"127.0.0.1:$((udp_base + i - 1))\""
            done
        } >"$conf"
        chmod 600 "$conf"
    fi

    local node_flags=()
    [ -n "$threads" ] && node_flags+=(--threads "$threads")
    [ -n "$max_connections" ] && node_flags+=(--max-connections "$max_connections")
    node_flags+=(${serve_flags[@]+"${serve_flags[@]}"})
    for i in $(seq "$n"); do
        mkdir -p "$dir/node-$i"
        nohup "$bin" serve --config "$conf" --node-id "$i" \
            --listen "127.0.0.1:$((http_base + i - 1))" \
            --data-dir "$dir/node-$i" --store "$store_url" \
            ${node_flags[@]+"${node_flags[@]}"} \
            >"$dir/node-$i.log" 2>&1 </dev/null &
        echo $! >"$dir/node-$i.pid"
        echo "http://127.0.0.1:$((http_base + i - 1))" >"$dir/node-$i.url"
    done
    for i in $(seq "$n"); do
        for _ in $(seq 100); do
            grep -q "imedge listening on" "$dir/node-$i.log" && break
            alive "$dir/node-$i.pid" || break
            sleep 0.1
        done
        grep -q "imedge listening on" "$dir/node-$i.log" ||
            die "node $i did not start: $(grep -m 3 -iE "error|panicked" "$dir/node-$i.log" || tail -n 5 "$dir/node-$i.log")"
    done

    write_nginx_conf
    mkdir -p "$dir/nginx-temp"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" ||
        die "nginx did not start (see $dir/nginx-error.log)"
    for _ in $(seq 50); do
        [ -s "$dir/nginx.pid" ] && break
        sleep 0.1
    done
    echo "http://127.0.0.1:$nginx_port" >"$dir/nginx.url"
    echo "imedge cluster of $n nodes up (store: $store), state in $dir"
    echo "  web client:  http://127.0.0.1:$nginx_port/"
    echo "  WebSocket:   ws://127.0.0.1:$nginx_port/chat?id=UID&token=TOKEN"
    echo "  a token:     $bin token --config $conf --uid UID"
    echo "  status/stop: $0 status --dir $dir  /  $0 down --dir $dir"
}

redis_ok() {
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]
}

# The shape of nginx/imedge.conf, sized for one machine and kept in $dir.
write_nginx_conf() {
    local i servers="" reuseport="" nofile
    for i in $(seq "$n"); do
        servers+="        server 127.0.0.1:$((http_base + i - 1)) max_fails=0;"$'\n'
    done
    [ "$nginx_workers" -gt 1 ] && reuseport=" reuseport"
    # Workers may raise their soft limit up to the hard one, no further.
    nofile=$(ulimit -Hn)
    [ "$nofile" = unlimited ] && nofile=$((worker_connections + 1024))
    cat >"$dir/nginx.conf" <<EOF
# Generated by nginx/local-cluster.sh from the shape of nginx/imedge.conf.
worker_processes $nginx_workers;
worker_rlimit_nofile $nofile;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections $worker_connections; }
http {
    client_body_temp_path $dir/nginx-temp/body;
    proxy_temp_path $dir/nginx-temp/proxy;
    fastcgi_temp_path $dir/nginx-temp/fastcgi;
    uwsgi_temp_path $dir/nginx-temp/uwsgi;
    scgi_temp_path $dir/nginx-temp/scgi;
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      close;
    }
    map \$arg_id \$im_key {
        "~^[1-9][0-9]{0,18}\$" \$arg_id;
        default               "";
    }
    log_format imedge '\$remote_addr [\$time_local] "\$request_method \$uri" '
                      '\$status \$im_key \$upstream_addr \$upstream_status '
                      '\$request_time';
    access_log $dir/nginx-access.log imedge;
    upstream imedge {
        hash \$im_key consistent;
$servers    }
    server {
        listen 127.0.0.1:$nginx_port$reuseport;
        location = /chat {
            default_type application/json;
            if (\$im_key = "") {
                return 400 '{"code":-1,"msg":"id must be a positive integer without leading zeros"}\n';
            }
            proxy_pass http://imedge;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_read_timeout 90s;
            proxy_send_timeout 90s;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            proxy_buffering off;
        }
        location = /metrics {
            return 404;
        }
        location / {
            proxy_pass http://imedge;
            proxy_http_version 1.1;
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout;
        }
    }
}
EOF
}

case $cmd in
    up) up ;;
    down) down ;;
    status) status ;;
    help | -h | --help) usage 0 ;;
    *) die "unknown command '$cmd': use up N, down or status" ;;
esac
