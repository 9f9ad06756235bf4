"""Shared state in Redis (several hosts): every operation is one Lua script, atomic on the server.

The bookings and sends of a key live in a sorted set, its sends alone in a second one; Redis' own clock
(``TIME``) decides the windows, so hosts with drifting clocks still agree. The planning rule is the same
as the other backends' (planning.py), written once more in Lua because it must run inside Redis to be
atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bolsync_provider.budget.shared_state.base import ClockOffset
from bolsync_provider.budget.shared_state.planning import (
    BOOKED_SLOT,
    EPSILON,
    PROBED_PAUSE,
    QUEUED_PAUSE,
    Reservation,
    WindowLimit,
)
from bolsync_provider.transport.status import MAX_RETRY_AFTER_SECONDS

#: The planning rule of planning.py in Lua, shared by RESERVE and COMMIT.
#: KEYS: queued pause, probed pause, then per limit its bookings-and-sends set and its sends set.
#: ARGV: now ('' = the server's TIME), epsilon, max delay, ticket, n limits, then per limit: limit,
#: period, queued (1/0), smooth (1/0), and last the longest 429 pause (planning.horizon).
#: Both return {delay, booked, sent, binding index, slot}.
PLAN = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1e6
else
  now = tonumber(ARGV[1])
end
local eps = tonumber(ARGV[2])
local max_delay = tonumber(ARGV[3])
local ticket = ARGV[4]
local n = tonumber(ARGV[5])
local function arg(i, k) return ARGV[4 * i + 1 + k] end
local function entries(i) return KEYS[1 + 2 * i] end
local function sends(i) return KEYS[2 + 2 * i] end
local horizon = 0
for i = 1, n do
  local period = tonumber(arg(i, 2))
  if period > horizon then horizon = period end
end
horizon = now + horizon + tonumber(ARGV[6 + 4 * n])
for i = 1, n do
  local period = tonumber(arg(i, 2))
  for _, key in ipairs({entries(i), sends(i)}) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%.17g', now - period))
    redis.call('ZREMRANGEBYSCORE', key, '(' .. string.format('%.17g', horizon), '+inf')
  end
end
local function bound(key, i)
  local limit = tonumber(arg(i, 1))
  local period = tonumber(arg(i, 2))
  local latest = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')
  local result = nil
  if latest[2] then
    result = tonumber(latest[2])
    if arg(i, 4) == '1' then result = result + period / limit end
  end
  local nth = redis.call('ZREVRANGE', key, limit - 1, limit - 1, 'WITHSCORES')
  if nth[2] then
    local c = tonumber(nth[2]) + period
    if result == nil or c > result then result = c end
  end
  return result
end
local function pause(key)
  local until_ts = tonumber(redis.call('GET', key) or '0')
  if until_ts > horizon then return 0 end
  return until_ts
end
local function decide(start, why, set_of)
  local slot = start
  local qp = pause(KEYS[1])
  if qp > slot + eps then slot, why = qp, -1 end
  for i = 1, n do
    if arg(i, 3) == '1' then
      local c = bound(set_of(i), i)
      if c ~= nil and c > slot + eps then slot, why = c, i end
    end
  end
  local queued = slot
  local pp = pause(KEYS[2])
  if pp > slot + eps then slot, why = pp, -2 end
  for i = 1, n do
    if arg(i, 3) ~= '1' then
      local c = bound(set_of(i), i)
      if c ~= nil and c > slot + eps then slot, why = c, i end
    end
  end
  local delay = slot - now
  local booked, sent = 0, 0
  if delay <= eps then
    delay, sent = 0, 1
  elseif slot <= queued + eps and delay <= max_delay then
    booked = 1
  end
  for i = 1, n do
    redis.call('ZREM', entries(i), ticket)
    if booked == 1 or sent == 1 then
      redis.call('ZADD', entries(i), slot, ticket)
      if sent == 1 then redis.call('ZADD', sends(i), slot, ticket) end
      local ttl = math.ceil((math.max(tonumber(arg(i, 2)), slot - now) + 60) * 1000)
      for _, key in ipairs({entries(i), sends(i)}) do
        if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
      end
    end
  end
  return {string.format('%.17g', delay), booked, sent, why, string.format('%.17g', slot)}
end
"""

RESERVE = (
    PLAN
    + """
return decide(now, 0, entries)
"""
)

COMMIT = (
    PLAN
    + """
local start, why = now, 0
local booked_at = 0
if n > 0 then booked_at = tonumber(redis.call('ZSCORE', entries(1), ticket) or '0') end
if booked_at > now + eps and booked_at <= horizon then start, why = booked_at, -3 end
return decide(start, why, sends)
"""
)

PAUSE = """
local t = redis.call('TIME')
local until_ts = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ts > current then
  redis.call('SET', KEYS[1], tostring(until_ts), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""

PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local longest = 0
for i = 1, #KEYS do
  local left = tonumber(redis.call('GET', KEYS[i]) or '0') - now
  if left > longest then longest = left end
end
return tostring(longest)
"""

LEASE = """
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

PREFIX = "bolsync:"


class RedisSharedState:
    """:class:`SharedState` in a Redis server."""

    def __init__(self, url: str, clock: Callable[[], float] | None = None) -> None:
        import redis

        #: The windows' clock (epoch seconds); None: the Redis server's ``TIME``.
        self.clock = clock
        self._client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        self._scripts = {
            name: self._client.register_script(text)
            for name, text in {
                "reserve": RESERVE,
                "commit": COMMIT,
                "pause": PAUSE,
                "paused_for": PAUSED_FOR,
                "lease": LEASE,
                "renew": RENEW,
                "release": RELEASE,
            }.items()
        }
        self._offset = ClockOffset(self._server_time)
        kwargs = self._client.connection_pool.connection_kwargs
        self.description = f"Redis {kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"

    def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return self._scripts[name](keys=[PREFIX + key for key in keys], args=list(args))

    def reserve(
        self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str, ticket: str, max_delay: float
    ) -> Reservation:
        return self._plan("reserve", limits, queued_pause, probed_pause, ticket, max_delay)

    def commit(
        self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str, ticket: str, max_delay: float
    ) -> Reservation:
        return self._plan("commit", limits, queued_pause, probed_pause, ticket, max_delay)

    def _plan(
        self,
        script: str,
        limits: Sequence[WindowLimit],
        queued_pause: str,
        probed_pause: str,
        ticket: str,
        max_delay: float,
    ) -> Reservation:
        now = "" if self.clock is None else repr(self.clock())
        args: list[Any] = [now, EPSILON, min(max_delay, 1e12), ticket, len(limits)]
        for limit in limits:
            args += [limit.limit, limit.period, 1 if limit.queued else 0, 1 if limit.smooth else 0]
        args.append(MAX_RETRY_AFTER_SECONDS)
        keys = [f"pause:{queued_pause}", f"pause:{probed_pause}"]
        for limit in limits:
            keys += [f"slots:{limit.key}", f"sent:{limit.key}"]
        delay, booked, sent, why, slot = self._run(script, keys, args)
        return Reservation(
            delay=max(0.0, float(delay)),
            booked=bool(int(booked)),
            sent=bool(int(sent)),
            reason=_reason(int(why), limits),
            slot=float(slot),
        )

    def local_time_of(self, backend_time: float) -> float:
        return backend_time if self.clock else self._offset.local_time_of(backend_time)

    def _server_time(self) -> float:
        seconds, micros = self._client.time()
        return float(seconds) + float(micros) / 1e6

    def pause(self, key: str, seconds: float) -> None:
        self._run("pause", [f"pause:{key}"], [seconds])

    def paused_for(self, keys: Sequence[str]) -> float:
        return max(0.0, float(self._run("paused_for", [f"pause:{key}" for key in keys], [])))

    def try_lease(self, name: str, holder: str, ttl: float) -> bool:
        return bool(int(self._run("lease", [f"lease:{name}"], [holder, max(1, int(ttl * 1000))])))

    def renew_lease(self, name: str, holder: str, ttl: float) -> bool:
        return bool(int(self._run("renew", [f"lease:{name}"], [holder, max(1, int(ttl * 1000))])))

    def release(self, name: str, holder: str) -> None:
        self._run("release", [f"lease:{name}"], [holder])

    def claim_once(self, key: str, ttl: float) -> bool:
        return bool(self._client.set(PREFIX + f"claim:{key}", "1", nx=True, px=max(1, int(ttl * 1000))))

    def release_claim(self, key: str) -> None:
        self._client.delete(PREFIX + f"claim:{key}")


def _reason(why: int, limits: Sequence[WindowLimit]) -> str:
    """The binding constraint named by the scripts' index (planning.py's labels)."""
    named = {-1: QUEUED_PAUSE, -2: PROBED_PAUSE, -3: BOOKED_SLOT}
    if why in named:
        return named[why]
    return limits[why - 1].label if 0 < why <= len(limits) else "free"
