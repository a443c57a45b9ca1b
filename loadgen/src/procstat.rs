//! CPU time and resident memory of a process, from /proc.

/// CPU seconds (user + system) and resident set of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// utime + stime, seconds.
    pub cpu_s: f64,
    /// Resident set, KiB.
    pub rss_kib: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status` (`pid` "self" for this
/// process); `None` when the process is gone.
pub fn read(pid: &str) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let cpu_s = cpu_seconds(&stat, crate::sys::clock_ticks())?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Some(Usage { cpu_s, rss_kib })
}

/// The usage of `pids` added up (a cluster's nodes); `None` when there
/// are none or one is gone, since a partial sum would read as a figure.
pub fn read_sum(pids: &[u32]) -> Option<Usage> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().try_fold(Usage::default(), |sum, pid| {
        let u = read(&pid.to_string())?;
        Some(Usage {
            cpu_s: sum.cpu_s + u.cpu_s,
            rss_kib: sum.rss_kib + u.rss_kib,
        })
    })
}

/// utime + stime of a stat line, in seconds. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_seconds(stat: &str, ticks: u64) -> Option<f64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut f = after.split_whitespace();
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some((utime + stime) as f64 / ticks as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "123 (a) b) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        assert_eq!(cpu_seconds(line, 100), Some(3.0));
        assert!(read("self").is_some_and(|u| u.rss_kib > 0));
        let me = std::process::id();
        let one = read_sum(&[me]).unwrap();
        assert!(read_sum(&[me, me]).is_some_and(|two| two.rss_kib >= 2 * one.rss_kib));
        assert_eq!(read_sum(&[]), None);
        assert_eq!(read_sum(&[me, u32::MAX]), None);
    }
}
