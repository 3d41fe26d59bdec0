/**
 * The shared limiter's Redis side: its key layout and the Lua scripts that apply the in-memory
 * limiter's rules atomically, with their argument layouts. Kept apart from RedisAttemptLimiter (which
 * decides when to ask Redis and what to do when it cannot answer) so each reads on its own.
 */
import { LuaScript } from "./lua-script.js";

/** The four keys one request's scripts touch: each subject's state and its attempts in flight. */
export interface SubjectKeys {
  readonly clientState: string;
  readonly addressState: string;
  readonly clientPending: string;
  readonly addressPending: string;
}

/** How a reservation ends. */
export type Outcome = "success" | "failure" | "release";

/**
 * `<prefix>{attempts}:client:<client key>`, `<prefix>{attempts}:address:<address key>` and their
 * `:pending` sets. Every script takes a client and an address together, atomically, and one address
 * meets many clients: no tag narrower than the whole limiter keeps each call's keys in one cluster
 * slot, so all limiter keys share the tag {attempts}. One slot (one shard) carries the limiter: it is
 * asked only before upstream attempts and, at most once a second per pair, on cache hits, far below
 * what one shard serves. Tokens, the hot path, spread over every slot.
 */
export function subjectKeys(prefix: string, clientKey: string, addressKey: string): SubjectKeys {
  const client = `${prefix}{attempts}:client:${clientKey}`;
  const address = `${prefix}{attempts}:address:${addressKey}`;
  return {
    clientState: client,
    addressState: address,
    clientPending: `${client}:pending`,
    addressPending: `${address}:pending`,
  };
}

// The subject state is a hash {failures, last, until, strikes}, the same fields as SubjectState, read
// with the window applied exactly as lockedSeconds() does: outside a lockout, counts older than the
// window are forgotten. In-flight reservations are a sorted set scored by their expiry.
const LOAD_STATE = `
local function load(key, now, window)
  local v = redis.call('HMGET', key, 'failures', 'last', 'until', 'strikes')
  local s = { failures = tonumber(v[1]) or 0, last = tonumber(v[2]) or 0,
              untilMs = tonumber(v[3]) or 0, strikes = tonumber(v[4]) or 0 }
  if s.untilMs <= now and s.last > 0 and now - s.last > window then
    s.failures = 0
    s.strikes = 0
  end
  return s
end
`;

// KEYS: client state, address state. ARGV: now. Returns the ms left of each subject's lockout (0 when
// not locked); which one the caller is told about is lockRefusal()'s rule, shared with memory.
export const LOCKED_FOR = new LuaScript(
  `local now = tonumber(ARGV[1])
local left = {}
for i = 1, 2 do
  local untilMs = tonumber(redis.call('HGET', KEYS[i], 'until') or '0') or 0
  left[i] = math.max(untilMs - now, 0)
end
return left`,
  2,
);

// KEYS: client state, address state, client pending, address pending.
// ARGV: now, window ms, client threshold, address threshold, reservation id, reservation ttl ms.
// Returns {1, 0, 0, 0} reserved; {0, client ms, address ms, 0} locked; {0, 0, 0, 1 | 2} refused because
// the client's (1) or the address's (2) failures plus attempts in flight fill its budget: busyRefusal()'s
// rule, counted from the first request for both.
export const RESERVE = new LuaScript(
  `${LOAD_STATE}
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local client = load(KEYS[1], now, window)
local address = load(KEYS[2], now, window)
local clientMs = math.max(client.untilMs - now, 0)
local addressMs = math.max(address.untilMs - now, 0)
if clientMs > 0 or addressMs > 0 then return {0, clientMs, addressMs, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if client.failures + redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then return {0, 0, 0, 1} end
if address.failures + redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[4]) then return {0, 0, 0, 2} end
local ttl = tonumber(ARGV[6])
for i = 3, 4 do
  redis.call('ZADD', KEYS[i], now + ttl, ARGV[5])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return {1, 0, 0, 0}`,
  4,
);

// KEYS: as RESERVE. ARGV: now, window ms, client threshold, address threshold, base ms, max ms,
// reservation id, outcome (success | failure | release). A success clears the clientId's counts only. Returns {client locked, address locked}, each
// 1 when this failure started a lockout. The failure rule is recordFailure()'s; each state key lives as
// long as its counts matter: the window after the last failure, or the lockout if longer.
export const SETTLE = new LuaScript(
  `${LOAD_STATE}
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[7])
redis.call('ZREM', KEYS[4], ARGV[7])
if ARGV[8] == 'success' then
  redis.call('DEL', KEYS[1])
  return {0, 0}
end
if ARGV[8] ~= 'failure' then return {0, 0} end
local function fail(key, threshold)
  local s = load(key, now, window)
  local locked = 0
  s.failures = s.failures + 1
  s.last = now
  if s.failures >= threshold then
    s.strikes = s.strikes + 1
    s.failures = 0
    s.untilMs = now + math.min(tonumber(ARGV[5]) * 2 ^ (s.strikes - 1), tonumber(ARGV[6]))
    locked = 1
  end
  redis.call('HSET', key, 'failures', s.failures, 'last', s.last, 'until', s.untilMs, 'strikes', s.strikes)
  redis.call('PEXPIRE', key, math.max(window, s.untilMs - now))
  return locked
end
return {fail(KEYS[1], tonumber(ARGV[3])), fail(KEYS[2], tonumber(ARGV[4]))}`,
  4,
);
