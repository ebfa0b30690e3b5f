"""The limiter's Redis scripts (grading/limiter.py): each runs atomically in Redis, so every worker on every host
sees one order of waiters and one count of slots. Times are Redis's own clock (TIME), never a host's."""

# Who gets the next free slots, shared by the scripts below. A caller's token is "<uuid>:<share>", "high-<uuid>:<share>"
# for a high-priority call; a slot kept for a share (below) is "hold-<uuid>:<share>". Of the waiters (queue: token ->
# the server's time of its first ask), `free` are chosen one at a time: from the share holding the fewest slots
# (counting those just chosen and those kept for it), ties to the share whose next waiter came first; within a share,
# its high-priority waiters first, then the others, each in the order they came.
CHOOSE = """
local function share_of(token)
  return string.match(token, '^[^:]*:(.*)$') or ''
end
local function is_high(token)
  return string.sub(token, 1, 5) == 'high-'
end
local function is_hold(token)
  return string.sub(token, 1, 5) == 'hold-'
end
local function choose(slots, queue, free)
  local chosen = {}
  if free <= 0 then return chosen end
  local held = {}
  for _, holder in ipairs(redis.call('ZRANGE', slots, 0, -1)) do
    local share = share_of(holder)
    held[share] = (held[share] or 0) + 1
  end
  local lines, shares = {}, {}
  local waiters = redis.call('ZRANGE', queue, 0, -1, 'WITHSCORES')
  for _, high in ipairs({true, false}) do  -- a share's line: its high-priority waiters, then the others
    for i = 1, #waiters, 2 do
      if is_high(waiters[i]) == high then
        local share = share_of(waiters[i])
        if not lines[share] then
          lines[share] = {next = 1}
          shares[#shares + 1] = share
        end
        local line = lines[share]
        line[#line + 1] = {waiters[i], tonumber(waiters[i + 1])}
      end
    end
  end
  for _ = 1, free do
    local best, best_held, best_since = nil, 0, 0
    for _, share in ipairs(shares) do
      local line = lines[share]
      local head = line[line.next]
      if head then
        local count = held[share] or 0
        if best == nil or count < best_held or (count == best_held and head[2] < best_since) then
          best, best_held, best_since = share, count, head[2]
        end
      end
    end
    if best == nil then break end
    local line = lines[best]
    chosen[#chosen + 1] = line[line.next][1]
    line.next = line.next + 1
    held[best] = best_held + 1
  end
  return chosen
end
"""

# A caller asks (again): it joins the queue if new, and takes a slot if it is one of those the free slots go to. A
# caller that stops asking (its process died) leaves the queue after `waiter_stale` s; a holder that never gave its
# slot back (its process died mid-call) loses it after `stale` s.
ACQUIRE = (
    CHOOSE
    + """
local slots, queue, seen = KEYS[1], KEYS[2], KEYS[3]
local token, limit = ARGV[1], tonumber(ARGV[2])
local stale, waiter_stale = tonumber(ARGV[3]), tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now - stale)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', seen, '-inf', now - waiter_stale)) do
  redis.call('ZREM', queue, gone)
  redis.call('ZREM', seen, gone)
end
local share = share_of(token)
for _, holder in ipairs(redis.call('ZRANGE', slots, 0, -1)) do
  if is_hold(holder) and share_of(holder) == share then  -- a slot kept for this share: it is this caller's
    redis.call('ZREM', slots, holder)
    redis.call('ZREM', queue, token)
    redis.call('ZREM', seen, token)
    redis.call('ZADD', slots, now, token)
    return 1
  end
end
redis.call('ZADD', queue, 'NX', now, token)
redis.call('ZADD', seen, now, token)
redis.call('EXPIRE', queue, stale)
redis.call('EXPIRE', seen, stale)
for _, winner in ipairs(choose(slots, queue, limit - redis.call('ZCARD', slots))) do
  if winner == token then
    redis.call('ZREM', queue, token)
    redis.call('ZREM', seen, token)
    redis.call('ZADD', slots, now, token)
    redis.call('EXPIRE', slots, stale)
    return 1
  end
end
return 0
"""
)

# A Retry-After: everyone waits until the key expires. A shorter pause never cuts a longer one short.
PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[1])
end
"""

# Free a slot, and wake the callers the free slots now go to (each blocks on its own key): they take the slot at once
# instead of finding it free at their next look.
#
# Except that a slot given back by a share below its fair share (the limit divided among the shares holding or
# waiting), with none of its own callers waiting while another share's are, is kept for that share for `handover` s:
# the next call of the same work (an upload's grading after its reading) comes a moment after the last one ended, and
# without this the other share's queue took the slot in that moment and the small share waited a whole call for the
# next one. A kept slot counts as the share's; it is the share's next caller's at once, and expires like a dead
# holder's (its score is set `handover` s short of `stale`).
RELEASE = (
    CHOOSE
    + """
local slots, queue, wake_prefix = KEYS[1], KEYS[2], ARGV[2]
local limit, stale, handover = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local token = ARGV[1]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
-- A kept slot that has expired (or a dead holder's) must not count as taken when choosing whom to wake below.
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now - stale)
if redis.call('ZREM', slots, token) == 1 and handover > 0 and not is_hold(token) then
  local share = share_of(token)
  local held, active, shares = 0, {}, 0
  for _, holder in ipairs(redis.call('ZRANGE', slots, 0, -1)) do
    local other = share_of(holder)
    if other == share then held = held + 1 end
    if not active[other] then active[other], shares = true, shares + 1 end
  end
  local own_waiting, others_waiting = false, false
  for _, waiter in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
    local other = share_of(waiter)
    if other == share then own_waiting = true else others_waiting = true end
    if not active[other] then active[other], shares = true, shares + 1 end
  end
  if not active[share] then shares = shares + 1 end
  if others_waiting and not own_waiting and held * shares < limit then
    redis.call('ZADD', slots, now - stale + handover, 'hold-' .. token)
  end
end
for _, waiter in ipairs(choose(slots, queue, limit - redis.call('ZCARD', slots))) do
  redis.call('RPUSH', wake_prefix .. waiter, 1)
  redis.call('EXPIRE', wake_prefix .. waiter, 5)
end
"""
)

# Each share's slots now, after dropping the expired ones (a dead holder's, a kept slot past its moment).
HOLDERS = """
local clock = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(clock[1]) + tonumber(clock[2]) / 1000000 - tonumber(ARGV[1]))
local counts, order = {}, {}
for _, holder in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local share = string.match(holder, '^[^:]*:(.*)$') or ''
  if not counts[share] then counts[share] = 0; order[#order + 1] = share end
  counts[share] = counts[share] + 1
end
local result = {}
for _, share in ipairs(order) do result[#result + 1] = {share, counts[share]} end
return result
"""
