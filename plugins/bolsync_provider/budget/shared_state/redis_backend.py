"""Shared state in Redis (several hosts): every operation is one Lua script, atomic on the server.

Slots of a key live in a sorted set; Redis' own clock (``TIME``) decides the windows, so hosts with
drifting clocks still agree. The planning rule is the same as the other backends' (planning.py),
written once more in Lua because it must run inside Redis to be atomic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bolsync_provider.budget.shared_state.base import ClockOffset
from bolsync_provider.budget.shared_state.planning import EPSILON, Reservation, WindowLimit

#: KEYS: queued pause, probed pause, then one sorted set per limit.
#: ARGV: epsilon, n limits, then per limit: limit, period, queued (1/0), smooth (1/0);
#: returns {slot - now, committed, binding index}.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local eps = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local function arg(i, k) return ARGV[4 * i - 2 + k] end
local function bound(i)
  local key = KEYS[2 + i]
  local limit = tonumber(arg(i, 1))
  local period = tonumber(arg(i, 2))
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (now - period))
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
local slot, why = now, 0
local qp = tonumber(redis.call('GET', KEYS[1]) or '0')
if qp > slot + eps then slot, why = qp, -1 end
for i = 1, n do
  if arg(i, 3) == '1' then
    local c = bound(i)
    if c ~= nil and c > slot + eps then slot, why = c, i end
  end
end
local queued = slot
local pp = tonumber(redis.call('GET', KEYS[2]) or '0')
if pp > slot + eps then slot, why = pp, -2 end
for i = 1, n do
  if arg(i, 3) ~= '1' then
    local c = bound(i)
    if c ~= nil and c > slot + eps then slot, why = c, i end
  end
end
local committed = 0
if slot <= queued + eps then
  committed = 1
  local member = string.format('%.6f', slot) .. ':' .. redis.call('INCR', KEYS[1] .. ':seq')
  for i = 1, n do
    redis.call('ZADD', KEYS[2 + i], slot, member)
    redis.call('PEXPIRE', KEYS[2 + i], math.ceil(tonumber(arg(i, 2)) * 1000) + 60000)
  end
end
return {tostring(slot - now), committed, why, tostring(slot)}
"""

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

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        self._scripts = {
            name: self._client.register_script(text)
            for name, text in {
                "reserve": RESERVE,
                "pause": PAUSE,
                "paused_for": PAUSED_FOR,
                "lease": LEASE,
                "renew": RENEW,
                "release": RELEASE,
            }.items()
        }
        self._clock = ClockOffset(self._server_time)
        kwargs = self._client.connection_pool.connection_kwargs
        self.description = f"Redis {kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"

    def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return self._scripts[name](keys=[PREFIX + key for key in keys], args=list(args))

    def reserve(self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str) -> Reservation:
        args: list[Any] = [EPSILON, len(limits)]
        for limit in limits:
            args += [limit.limit, limit.period, 1 if limit.queued else 0, 1 if limit.smooth else 0]
        delay, committed, why, slot = self._run(
            "reserve", [f"pause:{queued_pause}", f"pause:{probed_pause}", *(f"slots:{x.key}" for x in limits)], args
        )
        why = int(why)
        reason = {0: "free", -1: "a 429 pause of the credential", -2: "X-RateLimit-Remaining 0 on this endpoint"}.get(
            why, limits[why - 1].label if 0 < why <= len(limits) else "free"
        )
        return Reservation(
            delay=max(0.0, float(delay)), committed=bool(int(committed)), reason=reason, slot=float(slot)
        )

    def local_time_of(self, backend_time: float) -> float:
        return self._clock.local_time_of(backend_time)

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
