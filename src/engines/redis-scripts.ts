/**
 * The Lua scripts of the Redis engine. Each runs atomically in Redis, so a decision that reads and
 * writes several counts is one step for the whole cluster (invariant I4).
 *
 * Every slot is a lease: a member of three sorted sets (all leases, the user's, the IP's) scored by
 * the time it expires, read from Redis's own clock so that nodes need not agree on time. A count is
 * the number of members not yet expired; expired members are removed whenever a script touches
 * their set, and every set carries a TTL, so the leases of a node that died go away on their own.
 */

/** Milliseconds on Redis's clock, shared by every script. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Lua: the first member of sorted set `order` (oldest first) that is still in `live`, dropping the
 * stale ones from `order` on the way; '' when there is none.
 */
const FIRST_LIVE = `local function firstLive(order, live)
  for _, member in ipairs(redis.call('ZRANGE', order, 0, -1)) do
    if redis.call('ZSCORE', live, member) then return member end
    redis.call('ZREM', order, member)
  end
  return ''
end`;

/**
 * KEYS: all leases, the user's, the IP's, the user's leases by age, revoked leases. ARGV: lease id,
 * TTL ms, max per user, max per IP (0: none), live connections of the user this admission replaces, cluster
 * cap (0: none), "1" to evict the user's oldest live lease at the per-user limit. Returns the
 * verdict ("ok" or the refusal code) and the evicted lease id ("" when none). An eviction and the
 * reservation that takes its slot are one step, so no other admission can take the slot between.
 */
export const RESERVE = `${NOW}
${FIRST_LIVE}
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now) end
local replacing = tonumber(ARGV[5])
local cap = tonumber(ARGV[6])
if cap > 0 and redis.call('ZCARD', KEYS[1]) - replacing >= cap then return {'cluster_full', ''} end
local perIp = tonumber(ARGV[4])
if perIp > 0 and redis.call('ZCARD', KEYS[3]) >= perIp then return {'ip_limit', ''} end
local victim = ''
if redis.call('ZCARD', KEYS[2]) - replacing >= tonumber(ARGV[3]) then
  if ARGV[7] ~= '1' then return {'user_limit', ''} end
  victim = firstLive(KEYS[4], KEYS[2])
  if victim == '' then return {'user_limit', ''} end
  -- Gone from the counts now; its node closes the socket when told, and must not refresh it back.
  for i = 1, 2 do redis.call('ZREM', KEYS[i], victim) end
  redis.call('ZREM', KEYS[4], victim)
  redis.call('ZADD', KEYS[5], now + tonumber(ARGV[2]), victim)
  redis.call('PEXPIRE', KEYS[5], ARGV[2])
end
local ttl = tonumber(ARGV[2])
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
redis.call('ZADD', KEYS[4], now, ARGV[1])
redis.call('PEXPIRE', KEYS[4], ttl)
return {'ok', victim}`;

/** KEYS: all leases, the user's, the IP's, the user's by age. ARGV: lease id. */
export const RELEASE = `for i = 1, 4 do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1`;

/**
 * Extends (or registers again, after an outage) every lease a node holds, and the node's liveness
 * key, in one call per tick. KEYS: all leases, the node's key, revoked leases. ARGV: TTL ms, then
 * for each lease its id, user key, IP key and user-by-age key. The per-lease keys come in ARGV
 * because their number varies; this needs a single Redis, not Redis Cluster. A revoked lease is
 * not registered again: its socket is being closed.
 */
export const REFRESH = `${NOW}
local ttl = tonumber(ARGV[1])
local expires = now + ttl
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local count = 0
for i = 2, #ARGV, 4 do
  local id = ARGV[i]
  if not redis.call('ZSCORE', KEYS[3], id) then
    count = count + 1
    redis.call('ZADD', KEYS[1], expires, id)
    for j = 1, 2 do
      local key = ARGV[i + j]
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      redis.call('ZADD', key, expires, id)
      redis.call('PEXPIRE', key, ttl)
    end
    redis.call('ZADD', ARGV[i + 3], 'NX', now, id)
    redis.call('PEXPIRE', ARGV[i + 3], ttl)
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], count, 'PX', ttl)
return count`;

/**
 * Moves a session's ownership to the claiming node. KEYS: the session's owner key. ARGV: the
 * claiming node, TTL ms, prefix of node liveness keys. Returns the previous holder (empty when no
 * node holds the session) and whether that node is alive.
 */
export const CLAIM_SESSION = `local holder = redis.call('GET', KEYS[1])
if not holder then return {'', 0} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {holder, redis.call('EXISTS', ARGV[3] .. holder)}`;

/**
 * Forgets an ended session, unless another node has claimed it since. KEYS: owner key, stream, the
 * user's sessions, the user's detached sessions. ARGV: this node, session id.
 */
export const END_SESSION = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[2])
  redis.call('ZREM', KEYS[4], ARGV[2])
end
return 1`;

/**
 * Extends every session a node holds. ARGV: TTL ms, this node, then for each session its owner
 * key, stream, the user's sessions, the user's detached sessions and its id. An owner key that
 * expired during an outage is set again; one another node holds now is left alone. Like REFRESH,
 * this needs a single Redis.
 */
export const REFRESH_SESSIONS = `${NOW}
local ttl = tonumber(ARGV[1])
for i = 3, #ARGV, 5 do
  local holder = redis.call('GET', ARGV[i])
  if not holder or holder == ARGV[2] then
    redis.call('SET', ARGV[i], ARGV[2], 'PX', ttl)
    redis.call('PEXPIRE', ARGV[i + 1], ttl)
    redis.call('ZADD', ARGV[i + 2], now + ttl, ARGV[i + 4])
    redis.call('PEXPIRE', ARGV[i + 2], ttl)
    redis.call('PEXPIRE', ARGV[i + 3], ttl)
  end
end
return (#ARGV - 2) / 5`;

/**
 * A place for a new session under the user's limit across the cluster. KEYS: the user's sessions
 * (scored by expiry), the user's detached sessions (scored by when they lost their socket). ARGV:
 * session id, max sessions, TTL ms. At the limit the session detached longest makes room, in the
 * same step. Returns the verdict ("ok" or "session_limit") and the dropped session ("" when none).
 */
export const ADMIT_SESSION = `${NOW}
${FIRST_LIVE}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local victim = ''
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  victim = firstLive(KEYS[2], KEYS[1])
  if victim == '' then return {'session_limit', ''} end
  redis.call('ZREM', KEYS[1], victim)
  redis.call('ZREM', KEYS[2], victim)
end
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return {'ok', victim}`;

/** A session lost its socket. KEYS: the user's detached sessions. ARGV: session id, TTL ms. */
export const DETACH_SESSION = `${NOW}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/**
 * Lua: the byte offset at which the frame of a stream entry ends, or nil for an entry written by a
 * node older than byte offsets. Entries are {'f', frame, 'e', end offset}.
 */
const END_OFFSET = `local function endOffset(fields)
  if fields[3] == 'e' then return tonumber(fields[4]) end
  return nil
end`;

/**
 * Appends a frame to a session's stream and trims the stream to the replay ring's bounds, in one
 * step. KEYS: the stream. ARGV: sequence number, frame, max frames, max bytes, TTL ms.
 *
 * Each entry carries the running byte offset at which its frame ends, so the bytes retained are the
 * newest entry's end offset minus the oldest entry's start offset (its end less its own length):
 * two reads at the ends of the stream, whatever its size. Acks trim the oldest entries without
 * touching the count, and a deleted or expired stream starts again at 0. Trimming drops the oldest
 * frames until both bounds hold, like the ring: a frame larger than the byte bound drops everything,
 * itself included, and the stream's last id still says what was sent, so a resume from before it is
 * `too_far_behind`, never handed a gap. Frames are counted in bytes (UTF-8), what Redis holds.
 */
export const APPEND_FRAME = `${END_OFFSET}
local stream = KEYS[1]
local frame = ARGV[2]
local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
local base = 0
if newest then base = endOffset(newest[2]) end
local id = ARGV[1] .. '-0'
local last = (base or 0) + #frame
redis.call('XADD', stream, id, 'f', frame, 'e', string.format('%d', last))
redis.call('PEXPIRE', stream, ARGV[5])
-- Written by an older node, without offsets: those frames cannot be counted, so they go.
if not base then redis.call('XTRIM', stream, 'MINID', id) end
local excess = redis.call('XLEN', stream) - tonumber(ARGV[3])
local floor = last - tonumber(ARGV[4])
local from, batch, dropped = '-', math.min(math.max(excess, 0) + 1, 64), 0
while true do
  local entries = redis.call('XRANGE', stream, from, '+', 'COUNT', batch)
  if #entries == 0 then
    redis.call('XTRIM', stream, 'MAXLEN', 0)
    return dropped
  end
  for _, entry in ipairs(entries) do
    local ends = endOffset(entry[2])
    if excess <= 0 and ends and ends - #entry[2][2] >= floor then
      if dropped > 0 then redis.call('XTRIM', stream, 'MINID', entry[1]) end
      return dropped
    end
    excess = excess - 1
    dropped = dropped + 1
  end
  from = '(' .. entries[#entries][1]
  batch = math.min(batch * 2, 64)
end`;

/**
 * Reads the newest frames of a session's stream for a claim, within the replay ring's bounds
 * whatever the stream holds (one written by an older node may be larger): newest first, in small
 * batches, stopping at the first hole (frames Redis missed), at max frames, or before the frame
 * that would pass max bytes. KEYS: the stream. ARGV: max frames, max bytes. Returns the stream's
 * last id (it survives trimming; "0-0" for no stream), then id and frame of each, newest first.
 */
export const READ_FRAME_TAIL = `local stream = KEYS[1]
if redis.call('EXISTS', stream) == 0 then return {'0-0'} end
local info = redis.call('XINFO', 'STREAM', stream)
local latest = '0-0'
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then latest = info[i + 1] end
end
local maxFrames, maxBytes = tonumber(ARGV[1]), tonumber(ARGV[2])
local expected = tonumber(string.match(latest, '^%d+'))
local out, count, bytes, from = {latest}, 0, 0, '+'
while count < maxFrames do
  local entries = redis.call('XREVRANGE', stream, from, '-', 'COUNT', math.min(maxFrames - count, 16))
  if #entries == 0 then return out end
  for _, entry in ipairs(entries) do
    local frame = entry[2][2]
    if tonumber(string.match(entry[1], '^%d+')) ~= expected or bytes + #frame > maxBytes then return out end
    out[#out + 1] = entry[1]
    out[#out + 1] = frame
    count, bytes, expected = count + 1, bytes + #frame, expected - 1
  end
  from = '(' .. entries[#entries][1]
end
return out`;
