"""The Lua scripts of the queue in Redis (labelling/queue/redis_queue.py), each one round trip per call."""

COLD_QUEUE, COLD_SEEN, SCANNED_TOO_FAR = -1, -2, -3

# KEYS: ready, queue, images, seen, cursor, added. ARGV: wanted, max_scan, ttl, scattered (1/0),
# excluded ids... Returns COLD_QUEUE, COLD_SEEN, SCANNED_TOO_FAR or a flat list [id, image, ...].
# Scattered (before a project's first model, when priorities are random anyway): random members
# of the whole queue (ZRANDMEMBER, distinct) the volunteer has not seen, so that volunteers spread
# over the pool instead of walking one shared order; when too few of those are unseen, the ordered
# scan below answers, so nothing unseen is ever missed.
# The cursor remembers where the run of subjects the volunteer has seen ends, from the top: the
# next lookup starts there (position = score, then member, as the sorted set orders them), so the
# volunteer's history is not walked again. An import (which may add a subject above the cursor)
# changes `added`, which voids every cursor of the queue.
NEXT_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SISMEMBER', KEYS[4], '0') == 0 then return -2 end
local excluded = {}
for index = 5, #ARGV do excluded[ARGV[index]] = true end
local wanted, max_scan = tonumber(ARGV[1]), tonumber(ARGV[2])
local function with_images(found)
  if #found == 0 then return {} end
  local images = redis.call('HMGET', KEYS[3], unpack(found))
  local answer = {}
  for index, id in ipairs(found) do
    answer[#answer + 1] = id
    answer[#answer + 1] = images[index] or ''
  end
  return answer
end
if ARGV[4] == '1' then
  local scattered = {}
  for _, id in ipairs(redis.call('ZRANDMEMBER', KEYS[2], wanted * 4)) do
    if not excluded[id] and redis.call('SISMEMBER', KEYS[4], id) == 0 then
      scattered[#scattered + 1] = id
      if #scattered >= wanted then return with_images(scattered) end
    end
  end
end
local added = redis.call('GET', KEYS[6]) or '0'
local cursor = redis.call('HMGET', KEYS[5], 'score', 'member', 'added')
local bound_score, bound_member = '+inf', false
if cursor[1] and cursor[3] == added then bound_score, bound_member = cursor[1], cursor[2] end
local bound_number = tonumber(bound_score)
local found, scanned, offset, chunk = {}, 0, 0, 32
local in_prefix, prefix_score, prefix_member = true, false, false
while #found < wanted do
  if scanned >= max_scan then return -3 end
  local page = redis.call('ZREVRANGEBYSCORE', KEYS[2], bound_score, '-inf', 'WITHSCORES',
                          'LIMIT', offset, chunk)
  if #page == 0 then break end
  for index = 1, #page, 2 do
    local id, score = page[index], page[index + 1]
    scanned = scanned + 1
    if not (bound_member and tonumber(score) == bound_number and id >= bound_member) then
      if excluded[id] then
        in_prefix = false
      elseif redis.call('SISMEMBER', KEYS[4], id) == 0 then
        in_prefix = false
        found[#found + 1] = id
        if #found >= wanted then break end
      elseif in_prefix then
        prefix_score, prefix_member = score, id
      end
    end
  end
  offset = offset + chunk
  chunk = math.min(chunk * 2, 1024)
end
if prefix_score then
  redis.call('HSET', KEYS[5], 'score', prefix_score, 'member', prefix_member, 'added', added)
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[3]))
end
return with_images(found)
"""

# KEYS: seen, queue, images, latest version. ARGV: subject id, seen TTL, retired (1/0), this
# request's version, project id, volunteer id. One command per vote. When a newer version was
# published, the vote also joins that version's seen set (the key is built as queue._seen_key does).
CLASSIFIED_SCRIPT = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
local latest = redis.call('GET', KEYS[4])
if latest and tonumber(latest) > tonumber(ARGV[4]) then
  local newer = 'starling:seen:' .. ARGV[5] .. ':' .. latest .. ':' .. ARGV[6]
  redis.call('SADD', newer, ARGV[1])
  redis.call('EXPIRE', newer, tonumber(ARGV[2]))
end
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
end
return 1
"""
