//! The Lua scripts that make a log's sequence atomic in Redis. Each names
//! only the keys of one log (one hash tag), so it runs on one cluster node.
//!
//! They are sent as EVALSHA; a server that does not know a script (a
//! restart, a failover, `SCRIPT FLUSH`) answers NOSCRIPT and the caller
//! loads it and tries again ([`redis::Script`] does that for single calls,
//! the writer for its pipelines).

use std::sync::LazyLock;

use redis::Script;

/// Appends one message if its seq follows the stored last seq, trims the
/// log by count and age, and moves the counter, in one step.
///
/// A seq right above the log's reservation is also accepted when the
/// reservation is above the last stored seq: the seqs between may have been
/// shown live by a node that crashed (or lost its commit), so numbering
/// resumes above them and each becomes a hole entry ([`super::keys::hole`]).
///
/// KEYS: list, counter, reservation. ARGV: seq, entry, retain (count), max
/// age in ms (0: none), now in ms, hole entry. Answers `{1, last}` when
/// stored (or when this exact entry is already stored at that seq: a
/// retried pipeline is harmless), `{0, last}` when the seq is a gap or a reuse.
pub static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local seq = tonumber(ARGV[1])
local reserved = tonumber(redis.call('GET', KEYS[3]) or '0')
if seq == reserved + 1 and reserved > last then
  for _ = last + 1, reserved do
    redis.call('RPUSH', KEYS[1], ARGV[6])
  end
  last = reserved
end
if seq ~= last + 1 then
  if seq <= last then
    local idx = redis.call('LLEN', KEYS[1]) - 1 - (last - seq)
    if idx >= 0 and redis.call('LINDEX', KEYS[1], idx) == ARGV[2] then
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
"#,
    )
});

/// Raises a log's reservation to `upto` (never lowers it).
///
/// KEYS: reservation. ARGV: upto. Answers 1.
pub static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local upto = tonumber(ARGV[1])
if upto > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"#,
    )
});

/// Drops a log's reservation at an orderly stop, unless another node has
/// raised it since (it owns the log now).
///
/// KEYS: reservation. ARGV: the reservation this node made. Answers 1 when dropped.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});

/// Reads up to `limit` entries after a seq.
///
/// KEYS: list, counter. ARGV: after, limit. Answers `{first, entries}`:
/// the seq of the first entry returned, and the entries in order.
pub static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local len = redis.call('LLEN', KEYS[1])
local first = last - len + 1
local from = math.max(tonumber(ARGV[1]) + 1, first)
local limit = tonumber(ARGV[2])
if from > last or limit < 1 then return {from, {}} end
local at = from - first
return {from, redis.call('LRANGE', KEYS[1], at, at + limit - 1)}
"#,
    )
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
