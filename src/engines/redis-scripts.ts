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
 * KEYS: all leases, the user's, the IP's. ARGV: lease id, TTL ms, max per user, max per IP, live
 * connections of the user this admission replaces. Returns "ok" or the refusal code.
 */
export const RESERVE = `${NOW}
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now) end
local replacing = tonumber(ARGV[5])
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return 'ip_limit' end
if redis.call('ZCARD', KEYS[2]) - replacing >= tonumber(ARGV[3]) then return 'user_limit' end
local ttl = tonumber(ARGV[2])
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 'ok'`;

/** KEYS: all leases, the user's, the IP's. ARGV: lease id. */
export const RELEASE = `for i = 1, 3 do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1`;

/**
 * Extends (or registers again, after an outage) every lease a node holds, and the node's liveness
 * key, in one call per tick. KEYS: all leases, the node's key. ARGV: TTL ms, then for each lease its
 * id, user key and IP key. The user and IP keys come in ARGV because their number varies; this
 * needs a single Redis, not Redis Cluster.
 */
export const REFRESH = `${NOW}
local ttl = tonumber(ARGV[1])
local expires = now + ttl
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 2, #ARGV, 3 do
  redis.call('ZADD', KEYS[1], expires, ARGV[i])
  for j = 1, 2 do
    local key = ARGV[i + j]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    redis.call('ZADD', key, expires, ARGV[i])
    redis.call('PEXPIRE', key, ttl)
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], (#ARGV - 1) / 3, 'PX', ttl)
return (#ARGV - 1) / 3`;

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
 * Forgets an ended session, unless another node has claimed it since. KEYS: owner key, stream.
 * ARGV: this node.
 */
export const END_SESSION = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 1`;

/**
 * Extends every session a node holds. ARGV: TTL ms, this node, then owner key and stream of each
 * session. An owner key that expired during an outage is set again; one another node holds now is
 * left alone. Like REFRESH, this needs a single Redis.
 */
export const REFRESH_SESSIONS = `local ttl = ARGV[1]
for i = 3, #ARGV, 2 do
  local holder = redis.call('GET', ARGV[i])
  if not holder or holder == ARGV[2] then
    redis.call('SET', ARGV[i], ARGV[2], 'PX', ttl)
    redis.call('PEXPIRE', ARGV[i + 1], ttl)
  end
end
return (#ARGV - 2) / 2`;
