//! Whether this machine's limits can hold the requested users, and what to
//! change when they cannot.

use anyhow::bail;

/// File descriptors one process needs besides its connections: each
/// runtime's ring and eventfd, std's own, the worker pipes, slack.
const FD_RESERVE: u64 = 64;

/// Descriptors a process holding `users` connections on `cores` runtimes needs.
pub fn fds_needed(users: usize, cores: usize) -> u64 {
    users as u64 + 4 * cores as u64 + FD_RESERVE
}

/// Connections one process can hold under an open-files limit of `limit`.
pub fn users_per_process(limit: u64, cores: usize) -> usize {
    limit.saturating_sub(4 * cores as u64 + FD_RESERVE) as usize
}

/// Fails, with the fix, when `users` connections do not fit under `limit`.
pub fn check_fds(users: usize, cores: usize, soft: u64, hard: u64) -> anyhow::Result<()> {
    let need = fds_needed(users, cores);
    if need <= soft {
        return Ok(());
    }
    bail!(
        "{users} users need {need} open files in one process, but the limit is {soft} \
         (hard limit {hard}). Fix: add --workers auto to spread the users over several \
         processes, or raise the hard limit (ulimit -Hn {need} as root, LimitNOFILE= in a \
         systemd unit, or nofile in /etc/security/limits.conf)"
    )
}

/// The local port range, from /proc (Linux default 32768-60999).
pub fn local_ports() -> u64 {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .filter_map(|v| v.parse::<u64>().ok());
    match (it.next(), it.next()) {
        (Some(lo), Some(hi)) if hi >= lo => hi - lo + 1,
        _ => 28_232,
    }
}

/// Fails, with the fix, when the users cannot get distinct 4-tuples: each
/// (source address, target) pair has one local port range.
pub fn check_ports(users: usize, sources: usize, targets: usize) -> anyhow::Result<()> {
    let ports = local_ports();
    let capacity = ports * sources.max(1) as u64 * targets.max(1) as u64;
    // Keep a tenth free for TIME_WAIT leftovers of earlier runs.
    if users as u64 <= capacity * 9 / 10 {
        return Ok(());
    }
    let need_sources = (users as u64 * 10 / 9).div_ceil(ports * targets.max(1) as u64);
    bail!(
        "{users} users need more source ports than {sources} source address(es) x {targets} \
         target(s) x {ports} local ports give. Fix: spread the source addresses, e.g. \
         --src-ips 127.0.0.2-127.0.0.{} (at least {need_sources} addresses), or widen \
         net.ipv4.ip_local_port_range",
        (need_sources + 1).min(254)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fd_error_names_the_fix() {
        assert!(check_fds(1000, 2, 20_000, 20_000).is_ok());
        let e = check_fds(40_000, 2, 20_000, 20_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--workers auto"), "{e}");
        assert_eq!(users_per_process(20_000, 2), 20_000 - 72);
    }

    #[test]
    fn the_port_error_names_the_fix() {
        assert!(check_ports(1000, 1, 1).is_ok());
        let e = check_ports(100_000, 1, 1).unwrap_err().to_string();
        assert!(e.contains("--src-ips"), "{e}");
        assert!(check_ports(100_000, 59, 1).is_ok());
    }
}
