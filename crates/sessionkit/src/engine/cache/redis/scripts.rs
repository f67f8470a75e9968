//! The Lua scripts: conditional writes, atomic on the server. Each touches the keys of one
//! hash slot only when the store passes it keys of one slot: on a cluster the user index is
//! not passed to the session writes (it is written first, by [`INDEX_ONLY_SCRIPT`]).

/// Adds the session (ARGV[1], its id) to its user's index set, whose TTL is kept at least as
/// long as the session's; no-op without a user (no key, or "").
const INDEX_USER: &str = r"
local function index_user(user_key, id, expires)
  if user_key == nil or user_key == '' then return end
  redis.call('SADD', user_key, id)
  local ttl = redis.call('TTL', user_key)
  if ttl == -1 or ttl < tonumber(expires) - tonumber(redis.call('TIME')[1]) then
    redis.call('EXPIREAT', user_key, expires)
  end
end
";

/// Reads the key the script just wrote. Under client-side caching (the near cache's channel)
/// a connection's own write stops Redis tracking the key for it; this read tracks it again,
/// so another client's next change to it is reported. (Redis 7.0 also tracks it after a
/// read of any other key the script declares, such as the user index's; this does not rely
/// on that.)
const TRACK_AGAIN: &str = r"
local function track_again(key)
  redis.call('HGET', key, 'v')
end
";

/// [`TRACK_AGAIN`] on a connection that nothing tracks (no near cache), where the read would
/// be wasted; it is about a tenth of Redis's instructions for a session's write.
const NOTHING_TRACKED: &str = r"
local function track_again(key) end
";

/// Creates the hash only if the key is free.
/// KEYS: session, user index (or "", or none on a cluster); ARGV: id, data, expiry (Unix seconds).
const INSERT_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', '1')
redis.call('EXPIREAT', KEYS[1], ARGV[3])
index_user(KEYS[2], ARGV[1], ARGV[3])
track_again(KEYS[1])
return 1";

/// Overwrites the hash only at the expected version, giving it the next one. The store passes
/// the next version as a string: a Lua number would be formatted for Redis on every call, about
/// 3,800 of its instructions.
/// KEYS: session, user index (or "", or none on a cluster); ARGV: id, version, next version,
/// data, expiry.
const REPLACE_SCRIPT: &str = r"
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[4], 'v', ARGV[3])
redis.call('EXPIREAT', KEYS[1], ARGV[5])
index_user(KEYS[2], ARGV[1], ARGV[5])
track_again(KEYS[1])
return 1";

/// Deletes the lock KEYS[1] only if the token ARGV[1] still holds it.
const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// The expiry of each key of KEYS in Unix milliseconds by the server's clock (so the client's
/// clock does not matter), or its PTTL when it has none (-1) or is gone (-2).
const EXPIRIES_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expiries = {}
for i, key in ipairs(KEYS) do
  local ttl = redis.call('PTTL', key)
  if ttl >= 0 then expiries[i] = now + ttl else expiries[i] = ttl end
end
return expiries";

/// The cache epoch stored at `key`, for the scripts that write; created if missing. A missing
/// epoch (a fresh Redis, or the key evicted) starts at the server's clock in microseconds,
/// never at a value an earlier epoch had — else entries of that epoch would be served again.
const CURRENT_EPOCH: &str = r"
local function current_epoch(key)
  local epoch = redis.call('GET', key)
  if epoch then return epoch end
  local now = redis.call('TIME')
  epoch = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', key, epoch)
  return epoch
end
";

/// The memory store's rules (`admits` and `outranks` in `memory.rs`) for an entry's fields as HMGET returns them.
const RANKS: &str = r"
local function admits(entry, epoch, incoming)
  if entry[1] ~= epoch or not entry[2] then return true end
  local held = tonumber(entry[2])
  if entry[3] then return incoming >= held end
  return incoming > held
end
local function outranks(entry, epoch, version)
  if entry[1] ~= epoch or not entry[2] then return false end
  local held = tonumber(entry[2])
  if entry[3] then return held > version end
  return held >= version
end
";

/// Writes the entry if ARGV's epoch is current and the entry admits the version; 1 if written.
/// KEYS: entry, epoch; ARGV: epoch, version, data, expiry (Unix seconds).
const WRITE_IF_NEWER_SCRIPT: &str = r"
if current_epoch(KEYS[2]) ~= ARGV[1] then return 0 end
local entry = redis.call('HMGET', KEYS[1], 'e', 'v', 'd')
if not admits(entry, ARGV[1], tonumber(ARGV[2])) then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('EXPIREAT', KEYS[1], ARGV[4])
track_again(KEYS[1])
return 1";

/// Replaces the entry by a fence at ARGV's version unless it outranks it; 1 if fenced.
/// KEYS: entry, epoch; ARGV: version, lifetime (milliseconds).
const FENCE_SCRIPT: &str = r"
local epoch = current_epoch(KEYS[2])
local entry = redis.call('HMGET', KEYS[1], 'e', 'v', 'd')
if outranks(entry, epoch, tonumber(ARGV[1])) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'e', epoch, 'v', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
track_again(KEYS[1])
return 1";

/// Moves the epoch on. KEYS: epoch.
const NEW_EPOCH_SCRIPT: &str = r"
current_epoch(KEYS[1])
return redis.call('INCR', KEYS[1])";

/// Indexes the session ARGV[1] under its user's set KEYS[1] until ARGV[2] (Unix seconds):
/// the index write on its own, for a cluster, where the set is in another slot.
const INDEX_ONLY_SCRIPT: &str = r"
index_user(KEYS[1], ARGV[1], ARGV[2])
return 1";

/// The scripts a store runs, each compiled (hashed) once.
#[derive(Clone)]
pub(super) struct Scripts {
    pub(super) insert: redis::Script,
    pub(super) replace: redis::Script,
    pub(super) index_only: redis::Script,
    pub(super) unlock: redis::Script,
    pub(super) expiries: redis::Script,
    pub(super) write_if_newer: redis::Script,
    pub(super) fence: redis::Script,
    pub(super) new_epoch: redis::Script,
}

impl Scripts {
    /// The scripts of a store whose connection asked for client-side caching (`tracked`: the
    /// near cache's), which must read again what they write, or of one that did not.
    pub(super) fn new(tracked: bool) -> Scripts {
        let track_again = if tracked {
            TRACK_AGAIN
        } else {
            NOTHING_TRACKED
        };
        Scripts {
            insert: redis::Script::new(&format!("{INDEX_USER}{track_again}{INSERT_SCRIPT}")),
            replace: redis::Script::new(&format!("{INDEX_USER}{track_again}{REPLACE_SCRIPT}")),
            index_only: redis::Script::new(&format!("{INDEX_USER}{INDEX_ONLY_SCRIPT}")),
            unlock: redis::Script::new(UNLOCK_SCRIPT),
            expiries: redis::Script::new(EXPIRIES_SCRIPT),
            write_if_newer: redis::Script::new(&format!(
                "{CURRENT_EPOCH}{RANKS}{track_again}{WRITE_IF_NEWER_SCRIPT}"
            )),
            fence: redis::Script::new(&format!(
                "{CURRENT_EPOCH}{RANKS}{track_again}{FENCE_SCRIPT}"
            )),
            new_epoch: redis::Script::new(&format!("{CURRENT_EPOCH}{NEW_EPOCH_SCRIPT}")),
        }
    }
}
