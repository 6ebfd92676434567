/**
 * The Lua scripts that keep the shared job state consistent. Each one runs atomically in Redis,
 * so caps, round-robin order and "exactly one result" hold with any number of producers and
 * workers. ARGV[1] is always the key prefix; the other keys are built from it (a single Redis or
 * Sentinel deployment: the scripts touch keys they do not declare, so Redis Cluster is out).
 *
 * Fencing: a worker acts on a running job only while the job's `attempts` equals the attempt its
 * claim returned. A worker that lost its job (killed and retried elsewhere, or too slow to renew
 * its lock) finds its writes refused, so a job completes exactly once; the refusal says why
 * (gone, ended, taken), so the worker can log it as what it is.
 */

const PRELUDE = `
local P = ARGV[1]
local function jk(id) return P .. ':job:' .. id end
local function publish(id, kind) redis.call('PUBLISH', P .. ':events', id .. ' ' .. kind) end
-- Why a worker's write is refused: '' (not refused), 'gone' (no record: Redis was flushed or
-- restarted without its AOF), 'ended:<state>' (canceled or failed meanwhile), 'taken:<attempt>'
-- (handed to another worker as a new try).
local function refused(id, attempt)
  local st = redis.call('HMGET', jk(id), 'state', 'attempts')
  if not st[1] then return 'gone' end
  if st[1] ~= 'running' then return 'ended:' .. st[1] end
  if st[2] ~= attempt then return 'taken:' .. (st[2] or '') end
  return ''
end
-- Bytes of pictures and results held (the memory budget): the 'mem' hash, results by expiry.
local function dropInput(id)
  local bytes = tonumber(redis.call('HGET', jk(id), 'input_bytes') or '0') or 0
  if redis.call('DEL', P .. ':input:' .. id) == 1 and bytes > 0 then
    redis.call('HINCRBY', P .. ':mem', 'inputs', -bytes)
  end
end
local function dropResult(id)
  local bytes = tonumber(redis.call('HGET', P .. ':result-bytes', id) or '0') or 0
  redis.call('HDEL', P .. ':result-bytes', id)
  redis.call('ZREM', P .. ':result-expiry', id)
  redis.call('DEL', P .. ':result:' .. id)
  if bytes > 0 then redis.call('HINCRBY', P .. ':mem', 'results', -bytes) end
end
-- Ends a job: state, reason, caps released, input deleted, kept for the result TTL, announced.
local function finish(id, state, err, code, now, ttl)
  local k = jk(id)
  local user = redis.call('HGET', k, 'user')
  redis.call('HSET', k, 'state', state, 'ended_at', now, 'encoding', '0')
  if err ~= '' then redis.call('HSET', k, 'error', err, 'error_code', code) end
  redis.call('HINCRBY', k, 'ends', 1)
  redis.call('SREM', P .. ':active:' .. user, id)
  redis.call('ZREM', P .. ':queued', id)
  redis.call('SREM', P .. ':running', id)
  dropInput(id)
  local delivery = redis.call('HGET', k, 'delivery')
  if delivery and delivery ~= '' and redis.call('HGET', k, 'delivered') ~= '1' then
    redis.call('SADD', P .. ':undelivered', id)
  end
  redis.call('PEXPIRE', k, ttl)
  redis.call('HINCRBY', P .. ':stats', state, 1)
  if state == 'failed' then redis.call('HINCRBY', P .. ':stats', 'failed:' .. code, 1) end
  publish(id, 'state')
end
-- The per-user and queue caps ({cap, count, limit} when refused, else nil) and the number of
-- waiting jobs. Ids in the user's active set whose record is gone or ended (a flushed or partly
-- lost store) are dropped before counting, so a lost record never holds a place forever.
local function checkCaps(user, perDefault, maxDefault, bypass)
  local settings = redis.call('HMGET', P .. ':settings', 'per_user', 'max_queued')
  local per = tonumber(settings[1]) or tonumber(perDefault)
  local maxq = tonumber(settings[2]) or tonumber(maxDefault)
  local activeKey = P .. ':active:' .. user
  for _, other in ipairs(redis.call('SMEMBERS', activeKey)) do
    local st = redis.call('HGET', jk(other), 'state')
    if st ~= 'queued' and st ~= 'running' then redis.call('SREM', activeKey, other) end
  end
  local active = redis.call('SCARD', activeKey)
  local queued = redis.call('ZCARD', P .. ':queued')
  if not bypass then
    if active >= per then return {'user_limit', active, per}, queued end
    if queued >= maxq then return {'queue_full', queued, maxq}, queued end
  end
  return nil, queued
end
`;

/**
 * The caps alone, before a picture is read (a cheap refusal; ADMIT checks them again).
 * ARGV: P, user, per_user default, max_queued default. Returns {'ok', 0, 0} or {cap, count, limit}.
 */
export const CHECK_CAPS = `${PRELUDE}
local refusal = checkCaps(ARGV[2], ARGV[3], ARGV[4], false)
if refusal then return refusal end
return {'ok', 0, 0}
`;

/**
 * Admission: caps, round number, job record, input picture, all at once.
 * ARGV: P, id, user, now, options, delivery, format, image, per_user default, max_queued default,
 * bypass caps ('1'), user list TTL (ms), memory budget (bytes, 0: none), result reserve per open
 * job (bytes), daily quota per user, guild ('' for none), daily quota per guild, UTC day, quota
 * counter TTL (ms). Returns {'ok', round, position} or {cap, count, limit}; the memory budget's
 * count and limit are bytes. The quotas in `settings` (set by an admin) override the defaults.
 *
 * Ids in the user's `active` set whose record is gone or ended (a flushed or partly lost store)
 * are dropped before counting, so a lost record never holds a place forever.
 *
 * Fair order: a user's n-th waiting job gets round max(their last round + 1, current round), where
 * the current round is that of the last job started; jobs run by (round, arrival). So every user
 * with waiting jobs gets one start per round, and a newcomer joins the end of the current round.
 */
export const ADMIT = `${PRELUDE}
local id, user, now = ARGV[2], ARGV[3], ARGV[4]
local activeKey = P .. ':active:' .. user
local refusal, queued = checkCaps(user, ARGV[9], ARGV[10], ARGV[11] == '1')
if refusal then return refusal end
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', P .. ':result-expiry', '-inf', ARGV[4], 'LIMIT', 0, 200)) do
  dropResult(gone)
end
local budget = tonumber(ARGV[13]) or 0
if budget > 0 then
  local mem = redis.call('HMGET', P .. ':mem', 'inputs', 'results')
  local open = queued + redis.call('SCARD', P .. ':running') + 1
  local used = (tonumber(mem[1]) or 0) + (tonumber(mem[2]) or 0)
  local need = used + #ARGV[8] + open * (tonumber(ARGV[14]) or 0)
  if need > budget then return {'memory_budget', used, budget} end
end
local quotas = redis.call('HMGET', P .. ':settings', 'quota_user', 'quota_guild')
local qUser = tonumber(quotas[1]) or tonumber(ARGV[15]) or 0
local qGuild = tonumber(quotas[2]) or tonumber(ARGV[17]) or 0
local userCount = P .. ':quota:' .. ARGV[18] .. ':user:' .. user
local guildCount = ARGV[16] ~= '' and (P .. ':quota:' .. ARGV[18] .. ':guild:' .. ARGV[16]) or nil
if qUser > 0 then
  local n = tonumber(redis.call('GET', userCount) or '0')
  if n >= qUser then return {'daily_quota_user', n, qUser} end
end
if guildCount and qGuild > 0 then
  local n = tonumber(redis.call('GET', guildCount) or '0')
  if n >= qGuild then return {'daily_quota_guild', n, qGuild} end
end
if qUser > 0 or qGuild > 0 then
  redis.call('INCR', userCount)
  redis.call('PEXPIRE', userCount, ARGV[19])
  if guildCount then
    redis.call('INCR', guildCount)
    redis.call('PEXPIRE', guildCount, ARGV[19])
  end
end
if queued == 0 then
  redis.call('DEL', P .. ':rounds')
  redis.call('SET', P .. ':round', '0')
end
local cur = tonumber(redis.call('GET', P .. ':round') or '0')
local last = tonumber(redis.call('HGET', P .. ':rounds', user) or '-1')
local round = math.max(last + 1, cur)
if round > 2000000 then round = 2000000 end
redis.call('HSET', P .. ':rounds', user, round)
local seq = redis.call('INCR', P .. ':seq') % 4294967296
local score = string.format('%.0f', round * 4294967296 + seq)
redis.call('HSET', jk(id), 'id', id, 'user', user, 'state', 'queued', 'options', ARGV[5],
  'delivery', ARGV[6], 'format', ARGV[7], 'created_at', now, 'round', round, 'score', score,
  'attempts', 0, 'delivered', '0', 'ends', 0, 'input_bytes', #ARGV[8])
redis.call('SET', P .. ':input:' .. id, ARGV[8])
redis.call('HINCRBY', P .. ':mem', 'inputs', #ARGV[8])
redis.call('SADD', activeKey, id)
redis.call('ZADD', P .. ':queued', score, id)
redis.call('ZADD', P .. ':user-jobs:' .. user, now, id)
redis.call('PEXPIRE', P .. ':user-jobs:' .. user, ARGV[12])
publish(id, 'state')
return {'ok', round, redis.call('ZRANK', P .. ':queued', id) + 1}
`;

/**
 * A worker takes a job BullMQ handed it. ARGV: P, id, worker, now, max tries, result TTL (ms).
 * Returns {'ok', attempt, options, image} | {'ended', state} | {'exhausted', tries} | {'missing'}.
 * A job found `running` was left by a worker that died (BullMQ's stalled-job check gave it back):
 * it counts as a new try, and after the last try it fails with a reason the user sees.
 */
export const CLAIM = `${PRELUDE}
local id, now, ttl = ARGV[2], ARGV[4], ARGV[6]
local k = jk(id)
local st = redis.call('HMGET', k, 'state', 'cancel', 'round')
local state = st[1]
if not state then return {'missing'} end
if state ~= 'queued' and state ~= 'running' then return {'ended', state} end
if st[2] == '1' then
  finish(id, 'canceled', 'canceled while running', 'canceled', now, ttl)
  return {'ended', 'canceled'}
end
local attempts = redis.call('HINCRBY', k, 'attempts', 1)
redis.call('ZREM', P .. ':queued', id)
if attempts > tonumber(ARGV[5]) then
  local tries = attempts - 1
  finish(id, 'failed', 'a worker stopped while running this job (' .. tries ..
    (tries == 1 and ' time' or ' times') .. '), so it was not tried again', 'interrupted', now, ttl)
  return {'exhausted', tries}
end
redis.call('HSET', k, 'state', 'running', 'worker', ARGV[3], 'started_at', now, 'progress', '',
  'encoding', '0')
-- The order of first starts (fairness is about who starts first, not about retries).
if attempts == 1 then
  redis.call('HSET', k, 'first_started_at', now, 'start_seq', redis.call('INCR', P .. ':starts'))
end
redis.call('SADD', P .. ':running', id)
local cur = tonumber(redis.call('GET', P .. ':round') or '0')
local r = tonumber(st[3]) or 0
if r > cur then redis.call('SET', P .. ':round', r) end
publish(id, 'state')
return {'ok', attempts, redis.call('HGET', k, 'options'), redis.call('GET', P .. ':input:' .. id) or ''}
`;

/** ARGV: P, id, attempt, progress JSON, encoding ('0'|'1'). Returns 'cancel' if cancel was asked, 'ok', or why the write was refused (see refused()). */
export const PROGRESS = `${PRELUDE}
local id = ARGV[2]
local why = refused(id, ARGV[3])
if why ~= '' then return why end
redis.call('HSET', jk(id), 'progress', ARGV[4], 'encoding', ARGV[5])
publish(id, 'progress')
if redis.call('HGET', jk(id), 'cancel') == '1' then return 'cancel' end
return 'ok'
`;

/** ARGV: P, id, attempt, now, TTL (ms), video bytes, size, run ms. Returns 'ok', or why it was refused. */
export const COMPLETE = `${PRELUDE}
local id = ARGV[2]
local why = refused(id, ARGV[3])
if why ~= '' then return why end
redis.call('SET', P .. ':result:' .. id, ARGV[6], 'PX', ARGV[5])
redis.call('HSET', P .. ':result-bytes', id, #ARGV[6])
redis.call('ZADD', P .. ':result-expiry', tonumber(ARGV[4]) + tonumber(ARGV[5]), id)
redis.call('HINCRBY', P .. ':mem', 'results', #ARGV[6])
redis.call('HSET', jk(id), 'result_bytes', ARGV[7], 'run_ms', ARGV[8])
finish(id, 'succeeded', '', '', ARGV[4], ARGV[5])
return 'ok'
`;

/** ARGV: P, id, attempt, now, TTL (ms), state (failed|canceled), message, code. Returns 'ok', or why it was refused. */
export const END = `${PRELUDE}
local id = ARGV[2]
local why = refused(id, ARGV[3])
if why ~= '' then return why end
finish(id, ARGV[6], ARGV[7], ARGV[8], ARGV[4], ARGV[5])
return 'ok'
`;

/**
 * Fails a job whose stored record is damaged (unreadable fields), whatever its attempt, unless it
 * already ended. ARGV: P, id, now, TTL (ms), message, fields to blank (space-separated). Returns 1,
 * or 0 when it had ended (or is gone).
 */
export const FAIL_DAMAGED = `${PRELUDE}
local id = ARGV[2]
local k = jk(id)
local state = redis.call('HGET', k, 'state')
for field in string.gmatch(ARGV[6], '%S+') do redis.call('HSET', k, field, '') end
if state ~= 'queued' and state ~= 'running' then return 0 end
finish(id, 'failed', ARGV[5], 'bad_record', ARGV[3], ARGV[4])
return 1
`;

/** Deletes a result and its live preview (the Delete button), keeping the memory count true. ARGV: P, id. */
export const DELETE_RESULT = `${PRELUDE}
local id = ARGV[2]
dropResult(id)
redis.call('DEL', P .. ':preview:' .. id)
if redis.call('EXISTS', jk(id)) == 1 then redis.call('HSET', jk(id), 'result_gone', '1') end
return 1
`;

/**
 * A stopping worker puts its job back without using up the try, first in line: the front of the
 * current round (BullMQ's moveToWait also puts a job in front of its priority). ARGV: P, id,
 * attempt. Returns the job's new round, or -1 when fenced off.
 */
export const RELEASE = `${PRELUDE}
local id = ARGV[2]
if refused(id, ARGV[3]) ~= '' then return -1 end
local k = jk(id)
local round = tonumber(redis.call('GET', P .. ':round') or '0')
local score = string.format('%.0f', round * 4294967296)
redis.call('HINCRBY', k, 'attempts', -1)
redis.call('HSET', k, 'state', 'queued', 'progress', '', 'encoding', '0', 'worker', '',
  'round', round, 'score', score)
redis.call('SREM', P .. ':running', id)
redis.call('ZADD', P .. ':queued', score, id)
publish(id, 'state')
return round
`;

/**
 * Cancel. ARGV: P, id, now, TTL (ms), reason. A waiting job ends at once ('queued'); a running
 * one is flagged and its worker told on the cancel channel ('running'); else 'ended' | 'unknown'.
 */
export const CANCEL = `${PRELUDE}
local id = ARGV[2]
local state = redis.call('HGET', jk(id), 'state')
if not state then return 'unknown' end
if state == 'queued' then
  finish(id, 'canceled', ARGV[5], 'canceled', ARGV[3], ARGV[4])
  return 'queued'
end
if state == 'running' then
  redis.call('HSET', jk(id), 'cancel', '1')
  redis.call('PUBLISH', P .. ':cancel', id)
  return 'running'
end
return 'ended'
`;

/** ARGV: P, id. Returns 1, or 0 for an unknown job. */
export const DELIVERED = `${PRELUDE}
local id = ARGV[2]
if redis.call('EXISTS', jk(id)) == 0 then return 0 end
redis.call('HSET', jk(id), 'delivered', '1')
redis.call('SREM', P .. ':undelivered', id)
publish(id, 'state')
return 1
`;

/** Undoes an admission whose BullMQ job could not be added. ARGV: P, id. Returns 1, or 0 if it moved on. */
export const FORGET = `${PRELUDE}
local id = ARGV[2]
local k = jk(id)
if redis.call('HGET', k, 'state') ~= 'queued' then return 0 end
local user = redis.call('HGET', k, 'user')
redis.call('SREM', P .. ':active:' .. user, id)
redis.call('ZREM', P .. ':queued', id)
redis.call('ZREM', P .. ':user-jobs:' .. user, id)
dropInput(id)
redis.call('DEL', k)
return 1
`;

export const SCRIPTS = {
  smForget: FORGET,
  smAdmit: ADMIT,
  smCheckCaps: CHECK_CAPS,
  smClaim: CLAIM,
  smProgress: PROGRESS,
  smComplete: COMPLETE,
  smEnd: END,
  smRelease: RELEASE,
  smCancel: CANCEL,
  smDelivered: DELIVERED,
  smFailDamaged: FAIL_DAMAGED,
  smDeleteResult: DELETE_RESULT,
} as const;
