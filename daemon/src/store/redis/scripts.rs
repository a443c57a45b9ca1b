//! The Lua scripts that make a log's sequence atomic in Redis. Each names
//! only the keys of one log (one hash tag), so it runs on one cluster node.
//!
//! They are sent as EVALSHA; a server that does not know a script (a
//! restart, a failover, `SCRIPT FLUSH`) answers NOSCRIPT and the caller
//! loads it and tries again ([`redis::Script`] does that for single calls,
//! the writer for its pipelines).

use std::sync::LazyLock;

use redis::Script;

/// Finds, by binary search over the entries' seqs (see
/// [`super::keys::entry`]), the index of the first entry of the list
/// `KEYS[1]` with a seq at least `target`; `len` when there is none.
const FIRST_AT_LEAST: &str = r#"
local function first_at_least(len, target)
  local lo, hi = 0, len
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local e = redis.call('LINDEX', KEYS[1], mid)
    if tonumber(string.sub(e, 14, 33)) < target then lo = mid + 1 else hi = mid end
  end
  return lo
end
"#;

/// Appends one message if its seq follows the stored last seq, trims the
/// log by count and age, and moves the counter, in one step.
///
/// A seq above the last stored one is also accepted when it is at most one
/// above a reservation left by an earlier version of imedge (which showed
/// messages before storing them): numbering resumes above the seqs it may
/// have shown, never back over them. Two nodes that both believe they own
/// a log can so never store the same seq: the second append of a seq is
/// refused, and nothing is shown before it is stored.
///
/// KEYS: list, counter, reservation. ARGV: seq, entry, retain (count), max
/// age in ms (0: none), now in ms. Answers `{1, last}` when stored (or when
/// this exact entry is already stored at that seq: a retried pipeline is
/// harmless), `{0, last}` when the seq is a gap or a reuse.
pub static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{FIRST_AT_LEAST}{}",
        r#"
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local seq = tonumber(ARGV[1])
local reserved = tonumber(redis.call('GET', KEYS[3]) or '0')
local resumes = seq > last + 1 and seq <= reserved + 1
if seq ~= last + 1 and not resumes then
  if seq <= last then
    local len = redis.call('LLEN', KEYS[1])
    local at = first_at_least(len, seq)
    if at < len and redis.call('LINDEX', KEYS[1], at) == ARGV[2] then
      return {1, last}
    end
  end
  return {0, last}
end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
local age = tonumber(ARGV[4])
if age > 0 then
  local cutoff = tonumber(ARGV[5]) - age
  -- A bounded number of pops per append keeps every call short; reads
  -- skip whatever expired entries are left.
  for _ = 1, 64 do
    local head = redis.call('LINDEX', KEYS[1], 0)
    if not head or tonumber(string.sub(head, 1, 13)) >= cutoff then break end
    redis.call('LPOP', KEYS[1])
  end
  -- An idle log is dropped whole once its newest message is too old; the
  -- counter has no expiry, so numbering continues.
  redis.call('PEXPIRE', KEYS[1], age)
end
return {1, seq}
"#
    ))
});

/// Reads up to `limit` entries after a seq.
///
/// KEYS: list. ARGV: after, limit. Answers the entries in order (each
/// carries its seq).
pub static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{FIRST_AT_LEAST}{}",
        r#"
local len = redis.call('LLEN', KEYS[1])
local limit = tonumber(ARGV[2])
if len == 0 or limit < 1 then return {} end
local at = first_at_least(len, tonumber(ARGV[1]) + 1)
if at >= len then return {} end
return redis.call('LRANGE', KEYS[1], at, at + limit - 1)
"#
    ))
});

/// Claims a user hash for a new account if no user has that uid yet.
///
/// KEYS: user hash. ARGV: mobile, password hash, nickname. Answers 1 when
/// claimed, 0 when the uid is taken.
pub static CLAIM_ACCOUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'known', '1', 'mobile', ARGV[1], 'hash', ARGV[2], 'nickname', ARGV[3])
return 1
"#,
    )
});
