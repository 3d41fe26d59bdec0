/**
 * The shared limiter's Redis side: its key layout and the Lua scripts that apply the in-memory
 * limiter's rules atomically, with their argument layouts. Kept apart from RedisAttemptLimiter (which
 * decides when to ask Redis and what to do when it cannot answer) so each reads on its own.
 */
import { GUESS_WINDOW_MS } from "../../limits/guess-budget.js";
import { LuaScript } from "./lua-script.js";

/**
 * The limiter's five keys, whatever the number of subjects:
 * - `subjects`, a hash: subject -> "failures:last:until:strikes" (SubjectState's fields);
 * - `expiry`, a sorted set: subject -> when its counts stop mattering (cleanup and the count bound);
 * - `pending`, a sorted set: `<subject>|<reservation id>` -> when that reservation lapses;
 * - `inflight`, a hash: subject -> its reservations in flight;
 * - `guesses`, a sorted set: reservation id -> when its slot of the guess budget frees (GuessBudget's
 *   rule: while in flight, until the reservation lapses; after a failure or an inconclusive attempt,
 *   a second later). Never more members than the budget per second.
 * A subject is `c:<client key>` or `a:<address key>` (HMAC keys, never a clientId or address in
 * clear). Every script takes a client and an address together, atomically, and one address meets many
 * clients: all five keys share the tag {attempts}, one cluster slot. The keys carry no TTL: entries
 * expire inside them, so only an allkeys-* eviction policy can take them (see eviction-policy.ts), and
 * a guessing flood over fresh clientIds or addresses grows them to MAX_SUBJECTS entries, not further.
 */
export interface LimiterKeys {
  readonly subjects: string;
  readonly expiry: string;
  readonly pending: string;
  readonly inflight: string;
  readonly guesses: string;
}

/**
 * Subjects the shared limiter holds at most (about 150 bytes each in Redis): past it the ones whose
 * counts matter least (soonest to expire, not locked out) go first, as in the in-memory limiter's LRU.
 */
export const MAX_SUBJECTS = 100_000;

export function limiterKeys(prefix: string): LimiterKeys {
  const base = `${prefix}{attempts}`;
  return {
    subjects: `${base}:subjects`,
    expiry: `${base}:expiry`,
    pending: `${base}:pending`,
    inflight: `${base}:inflight`,
    guesses: `${base}:guesses`,
  };
}

/** The subject names for one request's clientId and address. */
export function subjectNames(clientKey: string, addressKey: string): [string, string] {
  return [`c:${clientKey}`, `a:${addressKey}`];
}

// KEYS: subjects, expiry, pending, inflight. Shared by RESERVE and SETTLE: load a subject with the
// window applied exactly as lockedSeconds() does (outside a lockout, counts older than the window are
// forgotten); drop lapsed reservations (a replica that died mid-attempt never settles them), a bounded
// number per call.
const COMMON = `
local function load(subject, now, window)
  local v = redis.call('HGET', KEYS[1], subject)
  local s = { failures = 0, last = 0, untilMs = 0, strikes = 0 }
  if v then
    local f, l, u, k = string.match(v, '^(%d+):(%d+):(%d+):(%d+)$')
    s = { failures = tonumber(f) or 0, last = tonumber(l) or 0, untilMs = tonumber(u) or 0,
          strikes = tonumber(k) or 0 }
  end
  if s.untilMs <= now and s.last > 0 and now - s.last > window then
    s.failures = 0
    s.strikes = 0
  end
  return s
end
local function lapse(now)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
  for _, member in ipairs(gone) do
    redis.call('ZREM', KEYS[3], member)
    local subject = string.match(member, '^(.*)|')
    if subject and redis.call('HINCRBY', KEYS[4], subject, -1) <= 0 then
      redis.call('HDEL', KEYS[4], subject)
    end
  end
end
local function inflight(subject)
  return tonumber(redis.call('HGET', KEYS[4], subject) or '0') or 0
end
local function unreserve(subject, id)
  if redis.call('ZREM', KEYS[3], subject .. '|' .. id) == 1 and
     redis.call('HINCRBY', KEYS[4], subject, -1) <= 0 then
    redis.call('HDEL', KEYS[4], subject)
  end
end
`;

// The ms a lockout has left, at most 2^53: a record written past that (forged, or corrupted) would
// otherwise turn into a negative integer reply and read as no lockout. The limiter caps it further,
// at LOCKOUT_MAX_SECONDS.
const REMAINING = `
local function remaining(untilMs, now)
  return math.min(math.max(untilMs - now, 0), 9007199254740991)
end
`;

// KEYS: subjects. ARGV: now, client subject, address subject. Returns the ms left of each subject's
// lockout (0 when not locked); which one the caller is told about is lockRefusal()'s rule.
export const LOCKED_FOR = new LuaScript(
  `${REMAINING}
local now = tonumber(ARGV[1])
local left = {}
for i = 1, 2 do
  local v = redis.call('HGET', KEYS[1], ARGV[i + 1])
  local untilMs = v and tonumber(string.match(v, '^%d+:%d+:(%d+):')) or 0
  left[i] = remaining(untilMs, now)
end
return left`,
  1,
);

// KEYS: as COMMON, then guesses. ARGV: now, window ms, client threshold, address threshold, reservation
// id, reservation ttl ms, client subject, address subject, guess budget.
// Returns {1, 0, 0, 0} reserved; {0, client ms, address ms, 0} locked; {0, 0, 0, 1 | 2} refused because
// the client's (1) or the address's (2) failures plus attempts in flight fill its budget: busyRefusal()'s
// rule, counted from the first request for both; {0, 0, 0, 3} refused because the guess budget is full.
export const RESERVE = new LuaScript(
  `${COMMON}${REMAINING}
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local client = load(ARGV[7], now, window)
local address = load(ARGV[8], now, window)
local clientMs = remaining(client.untilMs, now)
local addressMs = remaining(address.untilMs, now)
if clientMs > 0 or addressMs > 0 then return {0, clientMs, addressMs, 0} end
lapse(now)
if client.failures + inflight(ARGV[7]) >= tonumber(ARGV[3]) then return {0, 0, 0, 1} end
if address.failures + inflight(ARGV[8]) >= tonumber(ARGV[4]) then return {0, 0, 0, 2} end
-- A slot never holds past a reservation's lifetime from now: one written by a replica whose clock runs
-- ahead (or forged) cannot keep the budget full.
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '(' .. (now + tonumber(ARGV[6])), '+inf')
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[9]) then return {0, 0, 0, 3} end
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[6]), ARGV[5])
for i = 7, 8 do
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ARGV[i] .. '|' .. ARGV[5])
  redis.call('HINCRBY', KEYS[4], ARGV[i], 1)
end
return {1, 0, 0, 0}`,
  5,
);

// KEYS: as COMMON, then guesses. ARGV: now, window ms, client threshold, address threshold, base ms,
// max ms, reservation id, outcome (success | failure | release), client subject, address subject, max
// subjects, guess budget. A failure or a release keeps its guess slot for a second (taken now if
// RESERVE never ran, while the budget has room: the set stays bounded); a success frees it.
// A success clears the clientId's counts only. Returns {client locked, address locked}, each 1 when this
// failure started a lockout. The failure rule is recordFailure()'s; a subject's counts matter for the
// window after its last failure, or its lockout if longer. The reservation is dropped whether or not
// RESERVE ever ran (its reply may have timed out): a failure counts either way.
export const SETTLE = new LuaScript(
  `${COMMON}
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
unreserve(ARGV[9], ARGV[7])
unreserve(ARGV[10], ARGV[7])
lapse(now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
if ARGV[8] == 'success' then
  redis.call('ZREM', KEYS[5], ARGV[7])
elseif redis.call('ZSCORE', KEYS[5], ARGV[7]) or redis.call('ZCARD', KEYS[5]) < tonumber(ARGV[12]) then
  redis.call('ZADD', KEYS[5], now + ${GUESS_WINDOW_MS}, ARGV[7])
end
if ARGV[8] == 'success' then
  redis.call('HDEL', KEYS[1], ARGV[9])
  redis.call('ZREM', KEYS[2], ARGV[9])
  return {0, 0}
end
if ARGV[8] ~= 'failure' then return {0, 0} end
local function fail(subject, threshold)
  local s = load(subject, now, window)
  local locked = 0
  s.failures = s.failures + 1
  s.last = now
  if s.failures >= threshold then
    s.strikes = s.strikes + 1
    s.failures = 0
    s.untilMs = now + math.min(tonumber(ARGV[5]) * 2 ^ (s.strikes - 1), tonumber(ARGV[6]))
    locked = 1
  end
  redis.call('HSET', KEYS[1], subject,
    string.format('%d:%d:%d:%d', s.failures, s.last, s.untilMs, s.strikes))
  redis.call('ZADD', KEYS[2], now + math.max(window, s.untilMs - now), subject)
  return locked
end
local result = {fail(ARGV[9], tonumber(ARGV[3])), fail(ARGV[10], tonumber(ARGV[4]))}
for _, subject in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('HDEL', KEYS[1], subject)
  redis.call('ZREM', KEYS[2], subject)
end
-- Over the bound: drop the entries that matter least, keeping locked-out subjects while others remain.
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[11])
if excess > 0 then
  local dropped = 0
  local candidates = redis.call('ZRANGE', KEYS[2], 0, excess * 2 + 16)
  for pass = 1, 2 do
    for _, subject in ipairs(candidates) do
      if dropped >= excess then break end
      local v = redis.call('HGET', KEYS[1], subject)
      local untilMs = v and tonumber(string.match(v, '^%d+:%d+:(%d+):')) or 0
      if v and (pass == 2 or untilMs <= now) then
        redis.call('HDEL', KEYS[1], subject)
        redis.call('ZREM', KEYS[2], subject)
        dropped = dropped + 1
      elseif not v then
        redis.call('ZREM', KEYS[2], subject)
      end
    end
  end
end
return result`,
  5,
);
