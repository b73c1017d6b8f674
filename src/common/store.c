#include "common/store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/config.h"
#include "common/log.h"
#include "common/util.h"

static redisContext *conn;
static int64_t last_fail_ms;
static int64_t last_warn_ms;

/*
 * The Lua scripts. Values in a session hash are one type byte followed by
 * the data: 'f' file, 'x' executable file, 'l' symbolic link (data is the
 * target), 'd' directory. Fields "\0b" and "\0n" hold the total bytes and
 * the number of files and links.
 */
/* clang-format off: one line of Lua per line of C */
static const char *const script_src[SCRIPT_COUNT] = {
    /* SESS_WRITE KEYS: sess  ARGV: path value ttl max_bytes max_files
     * -> 1, or an error "conflict <path>" / "isdir <path>" /
     * "too_large bytes|files|dirs". Directories above path are made as
     * entries of their own, counted in "\0d" and bounded by max_files + 2048
     * (room for the deepest valid path). */
    [SCRIPT_SESS_WRITE] =
        "local k, p, v = KEYS[1], ARGV[1], ARGV[2]\n"
        "local missing = {}\n"
        "local i = 1\n"
        "while true do\n"
        "  local s = string.find(p, '/', i, true)\n"
        "  if not s then break end\n"
        "  local d = string.sub(p, 1, s - 1)\n"
        "  local t = redis.call('HGET', k, d)\n"
        "  if t and string.sub(t, 1, 1) ~= 'd' then return redis.error_reply('conflict ' .. d) "
        "end\n"
        "  if not t then missing[#missing + 1] = d end\n"
        "  i = s + 1\n"
        "end\n"
        "local old = redis.call('HGET', k, p)\n"
        "if old and string.sub(old, 1, 1) == 'd' then return redis.error_reply('isdir ' .. p) end\n"
        "if old and string.sub(old, 1, 1) == 'x' and string.sub(v, 1, 1) == 'f' then v = 'x' .. "
        "string.sub(v, 2) end\n"
        "local b = tonumber(redis.call('HGET', k, '\\0b') or '0')\n"
        "local n = tonumber(redis.call('HGET', k, '\\0n') or '0')\n"
        "local nd = tonumber(redis.call('HGET', k, '\\0d') or '0') + #missing\n"
        "local nb = b + #v - 1\n"
        "local nn = n\n"
        "if old then nb = nb - (#old - 1) else nn = nn + 1 end\n"
        "if nb > tonumber(ARGV[4]) then return redis.error_reply('too_large bytes') end\n"
        "if nn > tonumber(ARGV[5]) then return redis.error_reply('too_large files') end\n"
        "if nd > tonumber(ARGV[5]) + 2048 then return redis.error_reply('too_large dirs') end\n"
        "for _, d in ipairs(missing) do redis.call('HSET', k, d, 'd') end\n"
        "redis.call('HSET', k, p, v, '\\0b', nb, '\\0n', nn, '\\0d', nd)\n"
        "redis.call('EXPIRE', k, ARGV[3])\n"
        "return 1\n",

    /* SESS_READ KEYS: sess  ARGV: path ttl -> {exists, value|false} */
    [SCRIPT_SESS_READ] = "if redis.call('EXISTS', KEYS[1]) == 0 then return {0, false} end\n"
                         "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
                         "return {1, redis.call('HGET', KEYS[1], ARGV[1])}\n",

    /* SESS_DELETE KEYS: sess  ARGV: path ttl -> 1, 0 (no such file), -1 (no
     * session). Deleting a directory deletes what is in it. */
    [SCRIPT_SESS_DELETE] =
        "local k, p = KEYS[1], ARGV[1]\n"
        "if redis.call('EXISTS', k) == 0 then return -1 end\n"
        "local v = redis.call('HGET', k, p)\n"
        "if not v then return 0 end\n"
        "local b = tonumber(redis.call('HGET', k, '\\0b') or '0')\n"
        "local n = tonumber(redis.call('HGET', k, '\\0n') or '0')\n"
        "local nd = tonumber(redis.call('HGET', k, '\\0d') or '0')\n"
        "local function drop(f, val)\n"
        "  if string.sub(val, 1, 1) == 'd' then nd = nd - 1 else b = b - (#val - 1); n = n - 1 "
        "end\n"
        "  redis.call('HDEL', k, f)\n"
        "end\n"
        "if string.sub(v, 1, 1) == 'd' then\n"
        "  local pre = p .. '/'\n"
        "  local all = redis.call('HGETALL', k)\n"
        "  for j = 1, #all, 2 do\n"
        "    if string.sub(all[j], 1, #pre) == pre then drop(all[j], all[j + 1]) end\n"
        "  end\n"
        "end\n"
        "drop(p, v)\n"
        "redis.call('HSET', k, '\\0b', b, '\\0n', n, '\\0d', nd)\n"
        "redis.call('EXPIRE', k, ARGV[2])\n"
        "return 1\n",

    /* SESS_RENAME KEYS: sess  ARGV: old new ttl max_files -> 1, 0 (no such
     * file), -1 (no session), or an error "conflict <path>" / "isdir
     * <path>" / "inside <path>" / "too_large dirs" */
    [SCRIPT_SESS_RENAME] =
        "local k, o, p = KEYS[1], ARGV[1], ARGV[2]\n"
        "if redis.call('EXISTS', k) == 0 then return -1 end\n"
        "local v = redis.call('HGET', k, o)\n"
        "if not v then return 0 end\n"
        "if o == p then redis.call('EXPIRE', k, ARGV[3]) return 1 end\n"
        "local isdir = string.sub(v, 1, 1) == 'd'\n"
        "if isdir and string.sub(p, 1, #o + 1) == o .. '/' then return redis.error_reply('inside ' "
        ".. p) end\n"
        "local i, missing = 1, 0\n"
        "while true do\n"
        "  local s = string.find(p, '/', i, true)\n"
        "  if not s then break end\n"
        "  local t = redis.call('HGET', k, string.sub(p, 1, s - 1))\n"
        "  if t and string.sub(t, 1, 1) ~= 'd' then return redis.error_reply('conflict ' .. "
        "string.sub(p, 1, s - 1)) end\n"
        "  if not t then missing = missing + 1 end\n"
        "  i = s + 1\n"
        "end\n"
        "local old = redis.call('HGET', k, p)\n"
        "if old and (string.sub(old, 1, 1) == 'd') ~= isdir then return redis.error_reply('isdir ' "
        ".. p) end\n"
        "local b = tonumber(redis.call('HGET', k, '\\0b') or '0')\n"
        "local n = tonumber(redis.call('HGET', k, '\\0n') or '0')\n"
        "local nd = tonumber(redis.call('HGET', k, '\\0d') or '0')\n"
        "if nd + missing > tonumber(ARGV[4]) + 2048 then return redis.error_reply('too_large "
        "dirs') end\n"
        "local function gone(val)\n"
        "  if string.sub(val, 1, 1) == 'd' then nd = nd - 1 else b = b - (#val - 1); n = n - 1 "
        "end\n"
        "end\n"
        "local all = redis.call('HGETALL', k)\n"
        "if isdir then\n"
        "  local tp = p .. '/'\n"
        "  for j = 1, #all, 2 do\n"
        "    if string.sub(all[j], 1, #tp) == tp then\n"
        "      gone(all[j + 1])\n"
        "      redis.call('HDEL', k, all[j])\n"
        "    end\n"
        "  end\n"
        "  local op = o .. '/'\n"
        "  for j = 1, #all, 2 do\n"
        "    if string.sub(all[j], 1, #op) == op then\n"
        "      redis.call('HDEL', k, all[j])\n"
        "      redis.call('HSET', k, tp .. string.sub(all[j], #op + 1), all[j + 1])\n"
        "    end\n"
        "  end\n"
        "end\n"
        "if old then gone(old) end\n"
        "i = 1\n"
        "while true do\n"
        "  local s = string.find(p, '/', i, true)\n"
        "  if not s then break end\n"
        "  nd = nd + redis.call('HSETNX', k, string.sub(p, 1, s - 1), 'd')\n"
        "  i = s + 1\n"
        "end\n"
        "redis.call('HDEL', k, o)\n"
        "redis.call('HSET', k, p, v, '\\0b', b, '\\0n', n, '\\0d', nd)\n"
        "redis.call('EXPIRE', k, ARGV[3])\n"
        "return 1\n",

    /* SESS_FORK KEYS: src dst  ARGV: ttl -> 1, 0 (no such session) */
    [SCRIPT_SESS_FORK] = "if redis.call('COPY', KEYS[1], KEYS[2]) == 0 then return 0 end\n"
                         "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
                         "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
                         "return 1\n",

    /* SESS_SAVEBACK KEYS: sess  ARGV: ttl max_bytes max_files ndel
     * del... (path value)... -> 1, or an error "too_large bytes|files|dirs".
     * Applies what a /run changed, deletions then new and changed entries,
     * over what the session holds now: a change made through the API while
     * the job ran stays unless the run changed the same path, and the
     * session stays a tree. A directory the run deleted is kept when an
     * entry was written under it meanwhile; an entry written meanwhile
     * under a path the run made a file goes; a missing or file parent of a
     * path the run wrote becomes a directory. Nothing is written before the
     * limits are checked. The session is recreated if it expired while the
     * job ran. */
    [SCRIPT_SESS_SAVEBACK] =
        "local k = KEYS[1]\n"
        "local ndel = tonumber(ARGV[4])\n"
        "local orig, chg, order = {}, {}, {}\n"
        "local function isdir(v) return v and string.sub(v, 1, 1) == 'd' end\n"
        "local function cur(p)\n"
        "  if chg[p] ~= nil then return chg[p] end\n"
        "  return redis.call('HGET', k, p) or false\n"
        "end\n"
        "local function put(p, v)\n"
        "  if chg[p] == nil then\n"
        "    orig[p] = redis.call('HGET', k, p) or false\n"
        "    order[#order + 1] = p\n"
        "  end\n"
        "  chg[p] = v\n"
        "end\n"
        "local function dirs_above(p, f)\n"
        "  local i = 1\n"
        "  while true do\n"
        "    local s = string.find(p, '/', i, true)\n"
        "    if not s then return end\n"
        "    f(string.sub(p, 1, s - 1))\n"
        "    i = s + 1\n"
        "  end\n"
        "end\n"
        "local function make_dir(a) if not isdir(cur(a)) then put(a, 'd') end end\n"
        "local keys\n"
        "local function all_keys()\n"
        "  keys = keys or redis.call('HKEYS', k)\n"
        "  return keys\n"
        "end\n"
        "local deldir = false\n"
        "for j = 5, 4 + ndel do\n"
        "  put(ARGV[j], false)\n"
        "  if isdir(orig[ARGV[j]]) then deldir = true end\n"
        "end\n"
        "for j = 5 + ndel, #ARGV, 2 do\n"
        "  local p, v = ARGV[j], ARGV[j + 1]\n"
        "  dirs_above(p, make_dir)\n"
        "  put(p, v)\n"
        "  if not isdir(v) and isdir(orig[p]) then\n"
        "    local pre = p .. '/'\n"
        "    for _, q in ipairs(all_keys()) do\n"
        "      if string.sub(q, 1, #pre) == pre then put(q, false) end\n"
        "    end\n"
        "  end\n"
        "end\n"
        "if deldir then\n"
        "  local live = {}\n"
        "  for _, q in ipairs(all_keys()) do\n"
        "    if string.byte(q, 1) ~= 0 then live[q] = true end\n"
        "  end\n"
        "  for q, v in pairs(chg) do live[q] = v and true or nil end\n"
        "  for q in pairs(live) do dirs_above(q, make_dir) end\n"
        "end\n"
        "local b = tonumber(redis.call('HGET', k, '\\0b') or '0')\n"
        "local n = tonumber(redis.call('HGET', k, '\\0n') or '0')\n"
        "local nd = tonumber(redis.call('HGET', k, '\\0d') or '0')\n"
        "local function count(v, sign)\n"
        "  if not v then return end\n"
        "  if isdir(v) then nd = nd + sign else b = b + sign * (#v - 1); n = n + sign end\n"
        "end\n"
        "for _, p in ipairs(order) do count(orig[p], -1); count(chg[p], 1) end\n"
        "if b > tonumber(ARGV[2]) then return redis.error_reply('too_large bytes') end\n"
        "if n > tonumber(ARGV[3]) then return redis.error_reply('too_large files') end\n"
        "if nd > tonumber(ARGV[3]) + 2048 then return redis.error_reply('too_large dirs') end\n"
        "for _, p in ipairs(order) do\n"
        "  if chg[p] then redis.call('HSET', k, p, chg[p]) else redis.call('HDEL', k, p) end\n"
        "end\n"
        "redis.call('HSET', k, '\\0b', b, '\\0n', n, '\\0d', nd)\n"
        "redis.call('EXPIRE', k, ARGV[1])\n"
        "return 1\n",

    /* JOB_PUSH KEYS: queue alive (sess job)...  ARGV: max_depth session_ttl
     * result_ttl (job session_required)... -> {1}, {-1} (queue full), {-2}
     * (no executor alive), {-3, i} (job i's session does not exist). All
     * or nothing: a refused batch queues no job. Sessions' TTLs are
     * renewed; each job key says the job exists until its result does. */
    [SCRIPT_JOB_PUSH] =
        "local n = (#KEYS - 2) / 2\n"
        "if redis.call('LLEN', KEYS[1]) + n > tonumber(ARGV[1]) then return {-1} end\n"
        "local t = redis.call('TIME')\n"
        "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
        "if redis.call('ZCOUNT', KEYS[2], now, '+inf') == 0 then return {-2} end\n"
        "for i = 1, n do\n"
        "  if ARGV[3 + 2 * i] == '1' and redis.call('EXISTS', KEYS[1 + 2 * i]) == 0 then return "
        "{-3, i} end\n"
        "end\n"
        "for i = 1, n do\n"
        "  redis.call('EXPIRE', KEYS[1 + 2 * i], ARGV[2])\n"
        "  redis.call('SET', KEYS[2 + 2 * i], 'queued', 'EX', ARGV[3])\n"
        "  redis.call('LPUSH', KEYS[1], ARGV[2 + 2 * i])\n"
        "end\n"
        "return {1}\n",

    /* JOB_FINISH KEYS: res done proc stats latency [sub]  ARGV: envelope ttl
     * job kind status created_ms [job_id sub_status score result graded_ms
     * max_points] -> 1 when this call wrote the result, 0 when one existed
     * already. With a sub key, a grade job's outcome is written into its
     * submission too, unless a regrade gave the submission a newer job. */
    [SCRIPT_JOB_FINISH] =
        "redis.call('LREM', KEYS[3], 1, ARGV[3])\n"
        "if #KEYS >= 6 and redis.call('HGET', KEYS[6], 'job') == ARGV[7] then\n"
        "  redis.call('HSET', KEYS[6], 'status', ARGV[8], 'score', ARGV[9], 'result', ARGV[10], "
        "'graded_ms', ARGV[11])\n"
        "  if ARGV[12] ~= '' then redis.call('HSET', KEYS[6], 'max_points', ARGV[12]) end\n"
        "end\n"
        "if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end\n"
        "redis.call('RPUSH', KEYS[2], ARGV[1])\n"
        "redis.call('EXPIRE', KEYS[2], ARGV[2])\n"
        "redis.call('HINCRBY', KEYS[4], 'jobs:' .. ARGV[4] .. ':' .. ARGV[5], 1)\n"
        "local t = redis.call('TIME')\n"
        "local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[6])\n"
        "if ms < 0 then ms = 0 end\n"
        "local le = '+Inf'\n"
        "for _, b in ipairs({5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000}) "
        "do\n"
        "  if ms <= b then le = tostring(b / 1000); break end\n"
        "end\n"
        "redis.call('HINCRBY', KEYS[5], le, 1)\n"
        "redis.call('HINCRBY', KEYS[5], 'sum_ms', ms)\n"
        "return 1\n",

    /* REAP KEYS: alive queue  ARGV: prefix forget_ms -> number of jobs put
     * back. Every executor whose lease expired loses its processing lists
     * to the front of the queue; one silent for forget_ms is forgotten. */
    [SCRIPT_REAP] =
        "local t = redis.call('TIME')\n"
        "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
        "local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - 1)\n"
        "local moved = 0\n"
        "for _, e in ipairs(dead) do\n"
        "  local slots = tonumber(redis.call('HGET', ARGV[1] .. 'exec:' .. e, 'slots') or '0')\n"
        "  local score = tonumber(redis.call('ZSCORE', KEYS[1], e))\n"
        "  for s = 0, slots - 1 do\n"
        "    local pl = ARGV[1] .. 'proc:' .. e .. ':' .. s\n"
        "    while redis.call('LMOVE', pl, KEYS[2], 'RIGHT', 'RIGHT') do moved = moved + 1 end\n"
        "  end\n"
        "  -- An executor whose lease ran out may only be stalled: its slots can\n"
        "  -- still take jobs. It stays listed (as expired) so later passes empty\n"
        "  -- its lists again, and is forgotten only after a long silence.\n"
        "  if now - score > tonumber(ARGV[2]) then\n"
        "    redis.call('DEL', ARGV[1] .. 'exec:' .. e)\n"
        "    redis.call('ZREM', KEYS[1], e)\n"
        "  end\n"
        "end\n"
        "return moved\n",

    /* ASG_PUT KEYS: asg asgs asggen asgseq  ARGV: definition summary slug
     * -> 1 created, 0 replaced. A created assignment gets a generation of
     * its own (asggen[slug]), which each submission records: one deleted
     * and made again under the same slug is another assignment. */
    [SCRIPT_ASG_PUT] = "local new = redis.call('EXISTS', KEYS[1]) == 0\n"
                       "redis.call('SET', KEYS[1], ARGV[1])\n"
                       "redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])\n"
                       "if not new then return 0 end\n"
                       "redis.call('HSET', KEYS[3], ARGV[3], redis.call('INCR', KEYS[4]))\n"
                       "return 1\n",

    /* SUB_CREATE KEYS: queue asgs sub job subs subs:asg subs:stu asggen
     * ARGV: max_depth result_ttl slug job_json sub_id student source late
     * created_ms max_points job_id language -> 1, -1 (queue full), -4 (no
     * such assignment). The submission and its job appear together or not
     * at all; it records the assignment's generation ('' for one made
     * before generations were kept). */
    [SCRIPT_SUB_CREATE] =
        "if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then return -4 end\n"
        "if redis.call('LLEN', KEYS[1]) + 1 > tonumber(ARGV[1]) then return -1 end\n"
        "redis.call('HSET', KEYS[3], 'id', ARGV[5], 'assignment', ARGV[3], 'student_id', "
        "ARGV[6], 'source', ARGV[7], 'late', ARGV[8], 'created_ms', ARGV[9], 'max_points', "
        "ARGV[10], 'job', ARGV[11], 'language', ARGV[12], 'status', 'queued', 'gen', "
        "redis.call('HGET', KEYS[8], ARGV[3]) or '')\n"
        "redis.call('ZADD', KEYS[5], ARGV[9], ARGV[5])\n"
        "redis.call('ZADD', KEYS[6], ARGV[9], ARGV[5])\n"
        "redis.call('ZADD', KEYS[7], ARGV[9], ARGV[5])\n"
        "redis.call('SET', KEYS[4], 'queued', 'EX', ARGV[2])\n"
        "redis.call('LPUSH', KEYS[1], ARGV[4])\n"
        "return 1\n",

    /* SUB_START KEYS: sub asggen  ARGV: job_id prefix -> {assignment,
     * source, definition} when job_id is the submission's current job (now
     * marked grading), {} otherwise. The definition is '' when the
     * assignment the submission was made to is gone, even if another now
     * has its slug. */
    [SCRIPT_SUB_START] =
        "local f = redis.call('HMGET', KEYS[1], 'job', 'assignment', 'source', 'gen')\n"
        "if f[1] ~= ARGV[1] then return {} end\n"
        "redis.call('HSET', KEYS[1], 'status', 'grading')\n"
        "local def = redis.call('GET', ARGV[2] .. 'asg:' .. f[2])\n"
        "if not def or (f[4] or '') ~= (redis.call('HGET', KEYS[2], f[2]) or '') then def = '' "
        "end\n"
        "return {f[2], f[3], def}\n",

    /* REGRADE KEYS: queue asggen  ARGV: max_depth result_ttl prefix slug
     * (sub job_id job_json)... -> number queued, or -1 when the queue cannot
     * take them all (then nothing is queued). Only the submissions made to
     * the assignment that has the slug now are queued. */
    [SCRIPT_REGRADE] =
        "local gen = redis.call('HGET', KEYS[2], ARGV[4]) or ''\n"
        "local todo = {}\n"
        "for i = 5, #ARGV, 3 do\n"
        "  local g = redis.call('HMGET', ARGV[3] .. 'sub:' .. ARGV[i], 'id', 'gen')\n"
        "  if g[1] and (g[2] or '') == gen then todo[#todo + 1] = i end\n"
        "end\n"
        "if redis.call('LLEN', KEYS[1]) + #todo > tonumber(ARGV[1]) then return -1 end\n"
        "for _, i in ipairs(todo) do\n"
        "  redis.call('HSET', ARGV[3] .. 'sub:' .. ARGV[i], 'status', 'queued', 'job', ARGV[i + "
        "1])\n"
        "  redis.call('SET', ARGV[3] .. 'job:' .. ARGV[i + 1], 'queued', 'EX', ARGV[2])\n"
        "  redis.call('LPUSH', KEYS[1], ARGV[i + 2])\n"
        "end\n"
        "return #todo\n",

    /* GRADEBOOK KEYS: asgs asggen  ARGV: prefix -> {slugs, {slug student
     * best}...}: the best score of each student's graded submissions per
     * assignment ('' when the student has submissions but none graded),
     * counting only submissions made to the assignment that has the slug
     * now. */
    [SCRIPT_GRADEBOOK] =
        "local slugs = redis.call('HKEYS', KEYS[1])\n"
        "local out = {}\n"
        "for _, slug in ipairs(slugs) do\n"
        "  local best = {}\n"
        "  local gen = redis.call('HGET', KEYS[2], slug) or ''\n"
        "  for _, id in ipairs(redis.call('ZRANGE', ARGV[1] .. 'subs:asg:' .. slug, 0, -1)) do\n"
        "    local f = redis.call('HMGET', ARGV[1] .. 'sub:' .. id, 'student_id', 'status', "
        "'score', 'gen')\n"
        "    if f[1] and (f[4] or '') == gen then\n"
        "      local b = best[f[1]]\n"
        "      local s = f[2] == 'done' and tonumber(f[3] or '')\n"
        "      if s then\n"
        "        if not b or b < s then best[f[1]] = s end\n"
        "      elseif b == nil then best[f[1]] = false end\n"
        "    end\n"
        "  end\n"
        "  for st, sc in pairs(best) do\n"
        "    out[#out + 1] = slug; out[#out + 1] = st; out[#out + 1] = sc and tostring(sc) or ''\n"
        "  end\n"
        "end\n"
        "return {slugs, out}\n",
};
/* clang-format on */

/* Filled by SCRIPT LOAD on first use, cleared on NOSCRIPT. */
static char script_sha[SCRIPT_COUNT][41];

redisContext *
store_get(void)
{
	struct timeval tv;
	redisReply *r;
	int64_t now;

	if (conn != NULL && conn->err == 0)
		return conn;
	if (conn != NULL) {
		redisFree(conn);
		conn = NULL;
	}
	now = now_mono_ms();
	/* Back off for a moment after a failure so a dead Redis costs a
	 * request one connect attempt, not many. */
	if (last_fail_ms && now - last_fail_ms < 200)
		return NULL;
	tv.tv_sec = cfg.redis_timeout_ms / 1000;
	tv.tv_usec = (cfg.redis_timeout_ms % 1000) * 1000;
	if (cfg.redis_socket && *cfg.redis_socket)
		conn = redisConnectUnixWithTimeout(cfg.redis_socket, tv);
	else
		conn = redisConnectWithTimeout(cfg.redis_host, (int)cfg.redis_port, tv);
	if (conn == NULL || conn->err)
		goto fail;
	redisSetTimeout(conn, tv);
	if (cfg.redis_password && *cfg.redis_password) {
		if (cfg.redis_user && *cfg.redis_user)
			r = redisCommand(conn, "AUTH %s %s", cfg.redis_user, cfg.redis_password);
		else
			r = redisCommand(conn, "AUTH %s", cfg.redis_password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			if (r)
				freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	if (cfg.redis_db) {
		r = redisCommand(conn, "SELECT %lld", (long long)cfg.redis_db);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			if (r)
				freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	last_fail_ms = 0;
	return conn;
fail:
	if (now - last_warn_ms > 1000) {
		log_warnx("redis: cannot connect to %s: %s",
		          cfg.redis_socket && *cfg.redis_socket ? cfg.redis_socket : cfg.redis_host,
		          conn ? conn->errstr : "out of memory");
		last_warn_ms = now;
	}
	if (conn)
		redisFree(conn);
	conn = NULL;
	last_fail_ms = now ? now : 1;
	return NULL;
}

void
store_reset(void)
{
	if (conn != NULL)
		redisFree(conn);
	conn = NULL;
	last_fail_ms = 0;
}

void
store_set_timeout(long ms)
{
	struct timeval tv;

	if (conn == NULL)
		return;
	if (ms <= 0)
		ms = (long)cfg.redis_timeout_ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	redisSetTimeout(conn, tv);
}

static redisReply *
checked(redisReply *r)
{
	/* Redis answers LOADING while it reads its AOF after a restart: that
	 * is unavailability, not an answer. */
	if (r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "LOADING", 7) == 0) {
		freeReplyObject(r);
		last_fail_ms = now_mono_ms();
		return NULL;
	}
	if (r == NULL) {
		log_warnx("redis: %s", conn && conn->errstr[0] ? conn->errstr : "no reply");
		store_reset();
		last_fail_ms = now_mono_ms();
	}
	return r;
}

redisReply *
store_cmd(const char *fmt, ...)
{
	redisContext *c = store_get();
	va_list ap;
	redisReply *r;

	if (c == NULL)
		return NULL;
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	return checked(r);
}

long long
store_incr_expire(const char *key, long long ttl_s, const char *also, redisReply **also_reply)
{
	redisContext *c = store_get();
	redisReply *rep[3] = {NULL, NULL, NULL};
	int n = also != NULL ? 3 : 2;
	long long v = -1;

	if (also_reply)
		*also_reply = NULL;
	if (c == NULL)
		return -1;
	/* All in one round trip. */
	if (redisAppendCommand(c, "INCR %s", key) != REDIS_OK ||
	    redisAppendCommand(c, "EXPIRE %s %lld", key, ttl_s) != REDIS_OK ||
	    (also != NULL && redisAppendCommand(c, "HGETALL %s", also) != REDIS_OK)) {
		store_reset();
		return -1;
	}
	/* Every reply is read, also after one that failed (LOADING), so that
	 * none is left for the next command; a broken connection ends it. */
	for (int i = 0; i < n; i++) {
		void *raw = NULL;
		int gone = redisGetReply(c, &raw) != REDIS_OK || raw == NULL;

		rep[i] = checked(raw);
		if (gone)
			break;
	}
	/* A failed EXPIRE still leaves the count that INCR made. */
	if (rep[0] != NULL && rep[0]->type == REDIS_REPLY_INTEGER)
		v = rep[0]->integer;
	for (int i = 0; i < 2; i++)
		if (rep[i])
			freeReplyObject(rep[i]);
	if (also_reply)
		*also_reply = rep[2];
	else if (rep[2])
		freeReplyObject(rep[2]);
	return v;
}

redisReply *
store_cmdargv(int argc, const char **argv, const size_t *lens)
{
	redisContext *c = store_get();

	if (c == NULL)
		return NULL;
	return checked(redisCommandArgv(c, argc, argv, lens));
}

redisReply *
store_script(enum store_script s, int nkeys, int argc, const char **argv, const size_t *lens)
{
	const char **av = xcalloc((size_t)argc + 3, sizeof *av);
	size_t *al = xcalloc((size_t)argc + 3, sizeof *al);
	char nk[16];
	redisReply *r = NULL;

	snprintf(nk, sizeof nk, "%d", nkeys);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (script_sha[s][0] == '\0') {
			r = store_cmd("SCRIPT LOAD %s", script_src[s]);
			if (r == NULL)
				goto out;
			if (r->type != REDIS_REPLY_STRING || r->len != 40) {
				log_warnx("redis: SCRIPT LOAD failed: %s",
				          r->type == REDIS_REPLY_ERROR ? r->str
				                                       : "unexpected reply");
				goto out;
			}
			memcpy(script_sha[s], r->str, 40);
			freeReplyObject(r);
			r = NULL;
		}
		av[0] = "EVALSHA", al[0] = 7;
		av[1] = script_sha[s], al[1] = 40;
		av[2] = nk, al[2] = strlen(nk);
		for (int i = 0; i < argc; i++)
			av[i + 3] = argv[i], al[i + 3] = lens ? lens[i] : strlen(argv[i]);
		r = store_cmdargv(argc + 3, av, al);
		if (r != NULL && r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, "NOSCRIPT", 8) == 0) {
			/* Redis restarted or flushed its script cache. */
			freeReplyObject(r);
			r = NULL;
			script_sha[s][0] = '\0';
			continue;
		}
		break;
	}
out:
	free(av);
	free(al);
	return r;
}
