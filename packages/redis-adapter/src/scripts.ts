/**
 * Lua scripts run atomically in Redis. Each keeps one room's invariants in one step: a seq is assigned, stored and
 * published together, so every node's subscribers see a room's messages in seq order; presence counts connections
 * per user and announces only the first join and the last leave.
 *
 * Inter-node envelopes are JSON `{ "v": 1, "k": <kind>, ... }`; a node ignores versions it does not know.
 */

/**
 * KEYS: room meta hash, history stream, dedup key ('' for none), presence hash.
 * ARGV: candidate epoch, ts, from (JSON), data (JSON), history size, ttl ms, dedup window ms, channel,
 *       except session (JSON), room name.
 * Returns { duplicate (0|1), position JSON { seq, epoch, ts } }. A dedup key holds that position only, never the
 * message, so a window of publish ids costs bytes per id, not the payloads (a key written by an older version holds
 * the whole message, which has the same three fields).
 */
export const PUBLISH = `
if KEYS[3] ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {1, seen} end
end
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local bytes = ''
if ARGV[11] ~= nil and ARGV[11] ~= '-' then bytes = ',"bytes":"' .. ARGV[11] .. '"' end
local msg = '{"type":"message","room":' .. cjson.encode(ARGV[10]) .. ',"seq":' .. seq .. ',"epoch":' .. cjson.encode(epoch) ..
  ',"from":' .. ARGV[3] .. ',"ts":' .. ARGV[2] .. bytes .. ',"data":' .. ARGV[4] .. '}'
if tonumber(ARGV[5]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '=', ARGV[5], seq .. '-1', 'm', msg, 't', ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
if redis.call('HLEN', KEYS[4]) == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[6]) else redis.call('PERSIST', KEYS[1]) end
local position = '{"seq":' .. seq .. ',"epoch":' .. cjson.encode(epoch) .. ',"ts":' .. ARGV[2] .. '}'
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], position, 'PX', ARGV[7]) end
redis.call('PUBLISH', ARGV[8], '{"v":1,"k":"m","x":' .. ARGV[9] .. ',"m":' .. msg .. '}')
return {0, position}
`

/**
 * KEYS: room meta hash, presence hash. ARGV: candidate epoch, ttl ms.
 * Creates the room's epoch if it has none. Returns { epoch, seq }.
 */
export const POSITION = `
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
if redis.call('HLEN', KEYS[2]) == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
local v = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
return {v[1], v[2] or '0'}
`

/**
 * KEYS: presence hash, connections set, rooms hash, node entries set, room meta hash, presence order (sorted set).
 * ARGV: user, presence JSON, connection (node|session), room, channel, entry.
 * Returns the user's connection count.
 */
export const PRESENCE_JOIN = `
local added = redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[6])
local n = redis.call('SCARD', KEYS[2])
local first = (n == 1 and added == 1)
if first or ARGV[2] ~= 'null' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('PERSIST', KEYS[5])
if first then
  redis.call('ZADD', KEYS[6], 0, ARGV[1])
  redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
  redis.call('PUBLISH', ARGV[5], '{"v":1,"k":"p","room":' .. cjson.encode(ARGV[4]) .. ',"e":"join","member":{"user":' ..
    cjson.encode(ARGV[1]) .. ',"presence":' .. redis.call('HGET', KEYS[1], ARGV[1]) .. ',"connections":' .. n .. '}}')
end
return n
`

/**
 * KEYS: presence hash, connections set, rooms hash, node entries set, room meta hash, presence order (sorted set).
 * ARGV: user, connection, room, channel, entry, ttl ms.
 * Returns the connections left (-1 when the connection was not there).
 */
export const PRESENCE_LEAVE = `
local removed = redis.call('SREM', KEYS[2], ARGV[2])
redis.call('SREM', KEYS[4], ARGV[5])
if removed == 0 then return -1 end
local n = redis.call('SCARD', KEYS[2])
if n > 0 then return n end
local p = redis.call('HGET', KEYS[1], ARGV[1]) or 'null'
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
if redis.call('HINCRBY', KEYS[3], ARGV[3], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[3]) end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('PEXPIRE', KEYS[5], ARGV[6]) end
redis.call('PUBLISH', ARGV[4], '{"v":1,"k":"p","room":' .. cjson.encode(ARGV[3]) .. ',"e":"leave","member":{"user":' ..
  cjson.encode(ARGV[1]) .. ',"presence":' .. p .. ',"connections":0}}')
return 0
`

/**
 * KEYS: presence hash, connections set. ARGV: user, presence JSON, room, channel.
 * Returns 1 when the user was present (and the update announced).
 */
export const PRESENCE_UPDATE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], '{"v":1,"k":"p","room":' .. cjson.encode(ARGV[3]) .. ',"e":"update","member":{"user":' ..
  cjson.encode(ARGV[1]) .. ',"presence":' .. ARGV[2] .. ',"connections":' .. redis.call('SCARD', KEYS[2]) .. '}}')
return 1
`

/**
 * Lua: appends to `out` each user with its presence JSON and its connection count (SCARD of `prefix .. user`), the
 * flat form every member-listing script answers with (read by `listedMembers`).
 */
const EMIT_MEMBERS = `
local function emitMembers(out, users, presences, prefix)
  for i = 1, #users do
    out[#out + 1] = users[i]
    out[#out + 1] = presences[i]
    out[#out + 1] = redis.call('SCARD', prefix .. users[i])
  end
  return out
end
local function allMembers(out, prefix)
  local all = redis.call('HGETALL', KEYS[1])
  local users, presences = {}, {}
  for i = 1, #all, 2 do
    users[#users + 1] = all[i]
    presences[#presences + 1] = all[i + 1]
  end
  return emitMembers(out, users, presences, prefix)
end
`

/**
 * KEYS: presence hash. ARGV: connections key prefix (the key is prefix .. user).
 * Returns a flat list: user, presence JSON, connection count, ...
 */
export const MEMBERS = `${EMIT_MEMBERS}
return allMembers({}, ARGV[1])
`

/**
 * Lua helpers over a room's presence order (KEYS[2]: a sorted set of the user ids of the presence hash, KEYS[1], all
 * at score 0, so ordered by their bytes: ids are ASCII, so that is the protocol's code unit order). `orderedPage`
 * reads at most `n` users after `min` (`-` for the first, `(user` for after one) with their presence JSON; it
 * rebuilds the order from the hash first when their sizes differ, or when the order lists a user the hash no longer
 * has (both happen to a room written by an adapter version that did not keep the order).
 */
const PRESENCE_ORDER_HELPERS = `${EMIT_MEMBERS}
local function rebuild()
  redis.call('DEL', KEYS[2])
  local names = redis.call('HKEYS', KEYS[1])
  for i = 1, #names, 1000 do
    local args = {}
    for j = i, math.min(i + 999, #names) do
      args[#args + 1] = 0
      args[#args + 1] = names[j]
    end
    redis.call('ZADD', KEYS[2], unpack(args))
  end
end
local function page(min, n)
  local users = redis.call('ZRANGEBYLEX', KEYS[2], min, '+', 'LIMIT', 0, n)
  if #users == 0 then return users, {} end
  local presences = redis.call('HMGET', KEYS[1], unpack(users))
  for i = 1, #users do
    if not presences[i] then return nil, nil end
  end
  return users, presences
end
local function orderedPage(min, n)
  if redis.call('ZCARD', KEYS[2]) ~= redis.call('HLEN', KEYS[1]) then rebuild() end
  local users, presences = page(min, n)
  if users == nil then
    rebuild()
    users, presences = page(min, n)
  end
  return users, presences
end
`

/**
 * What a join's `joined` needs of a room, without reading every member: every member while there are at most
 * `limit`, else the first `limit` by user id from the presence order. Then it publishes `mark` on the asking node's
 * channel: that node's subscriber gets every presence change made before this read ahead of the mark, and none made
 * after it.
 * KEYS: presence hash, presence order. ARGV: limit, connections key prefix, mark channel, mark.
 * Returns a flat list: member count, then user, presence JSON, connection count, ...
 */
export const MEMBER_SNAPSHOT = `${PRESENCE_ORDER_HELPERS}
local count = redis.call('HLEN', KEYS[1])
local limit = tonumber(ARGV[1])
local out = {count}
if count <= limit then
  allMembers(out, ARGV[2])
else
  local users, presences = orderedPage('-', limit)
  emitMembers(out, users, presences, ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return out
`

/**
 * A page of a room's members by user id, for a client's `members` request: at most `limit` after `after`.
 * KEYS: presence hash, presence order. ARGV: `-` or `(after`, limit, connections key prefix.
 * Returns a flat list: 1 when more members follow the page (else 0), then user, presence JSON, connection count, ...
 */
export const MEMBER_PAGE = `${PRESENCE_ORDER_HELPERS}
local limit = tonumber(ARGV[2])
local users, presences = orderedPage(ARGV[1], limit + 1)
local more = #users > limit
if more then
  users[#users] = nil
  presences[#presences] = nil
end
return emitMembers({more and 1 or 0}, users, presences, ARGV[3])
`
