#!/usr/bin/env bash
# Reports what this host still lacks for imedge at about 1M connections:
# every sysctl of sysctl.d/60-imedge.conf against its recommended value, the
# open-files hard limit against imedge.service's LimitNOFILE, and io_uring.
# One line per check: "ok", "SHORT" (counts against the exit status) or
# "warn" (worth a look, not counted), then a summary line.
# Exit status: 0 when nothing is short, 1 otherwise. Reads only; no root needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
conf="$here/sysctl.d/60-imedge.conf"
unit="$here/imedge.service"
proc=${IMEDGE_PROC_SYS:-/proc/sys}

checks=0
short=0
report() { # status name detail
    checks=$((checks + 1))
    [ "$1" = SHORT ] && short=$((short + 1))
    printf '%-5s  %-34s %s\n' "$1" "$2" "$3"
}

# How a sysctl compares: "each" (every field at least the recommended),
# "range" (the host's range includes ours), "last" (only the last field, a
# maximum, matters).
mode_of() {
    case "$1" in
        net.ipv4.ip_local_port_range) echo range ;;
        net.ipv4.tcp_rmem | net.ipv4.tcp_wmem) echo last ;;
        *) echo each ;;
    esac
}

meets() { # mode "current fields" "recommended fields"
    local mode=$1 i
    read -r -a cur <<<"$2"
    read -r -a rec <<<"$3"
    [ "${#cur[@]}" -eq "${#rec[@]}" ] || return 1
    case "$mode" in
        range) [ "${cur[0]}" -le "${rec[0]}" ] && [ "${cur[1]}" -ge "${rec[1]}" ] ;;
        last) [ "${cur[-1]}" -ge "${rec[-1]}" ] ;;
        each)
            for i in "${!rec[@]}"; do
                [ "${cur[$i]}" -ge "${rec[$i]}" ] || return 1
            done
            ;;
    esac
}

while IFS='=' read -r key value; do
    key=$(echo "$key" | xargs)
    value=$(echo "$value" | xargs)
    path="$proc/${key//.//}"
    if [ ! -r "$path" ]; then
        report SHORT "$key" "not readable here ($path); want $value"
        continue
    fi
    current=$(tr -s ' \t' ' ' <"$path" | xargs)
    if meets "$(mode_of "$key")" "$current" "$value"; then
        report ok "$key" "$current"
    else
        report SHORT "$key" "$current, want $value ($(mode_of "$key"))"
    fi
done < <(grep -E '^[[:space:]]*[a-z]' "$conf")

want_fds=$(sed -n 's/^LimitNOFILE=//p' "$unit")
have_fds=$(ulimit -Hn)
if [ "$have_fds" = unlimited ] || [ "$have_fds" -ge "$want_fds" ]; then
    report ok "open files (hard limit)" "$have_fds"
else
    report SHORT "open files (hard limit)" \
        "$have_fds, want $want_fds (imedge.service sets it; by hand: limits.d/imedge.conf)"
fi

# io_uring: 0 allowed, 1 only for the io_uring_group, 2 disabled (Linux 6.6+).
disabled_path="$proc/kernel/io_uring_disabled"
if [ -r "$disabled_path" ]; then
    disabled=$(cat "$disabled_path")
    case "$disabled" in
        0) report ok "io_uring" "enabled (kernel.io_uring_disabled = 0)" ;;
        1) report SHORT "io_uring" "restricted to kernel.io_uring_group (io_uring_disabled = 1); imedge falls back to epoll" ;;
        *) report SHORT "io_uring" "disabled (kernel.io_uring_disabled = $disabled); imedge falls back to epoll" ;;
    esac
else
    report ok "io_uring" "no kernel.io_uring_disabled (kernel before 6.6): available unless compiled out"
fi
# A seccomp filter (Docker's default profile) can block io_uring_setup even
# when the kernel allows it; the daemon then logs the fallback and exports
# imedge_driver{driver="epoll"}.
seccomp=$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/self/status 2>/dev/null || true)
if [ "${seccomp:-0}" = 2 ]; then
    report warn "seccomp filter" "active: check imedge_driver in /metrics (see tuning/README.md)"
else
    report ok "seccomp filter" "none (mode ${seccomp:-unknown})"
fi

echo "$checks checks, $short short"
[ "$short" -eq 0 ]
