"""The policy's view of the pools and desired counts in KV, with compare-and-set writes."""

from __future__ import annotations

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue, get_struct, put_struct
from agentscaler.shared.codec import BadMessage, decode, encode
from agentscaler.shared.messages.bounds import into_range
from agentscaler.shared.messages.pools import DesiredState, PoolConfig


class Conflict(Exception):
    """Someone else changed the desired state between read and write."""


class PoolStore:
    def __init__(self, js: JetStreamContext, pools: KeyValue, desired: KeyValue) -> None:
        self.js = js
        self.pools = pools
        self.desired = desired

    @classmethod
    async def open(cls, js: JetStreamContext) -> PoolStore:
        return cls(js, await bucket(js, subjects.POOLS_BUCKET), await bucket(js, subjects.DESIRED_BUCKET))

    async def migrate(self) -> dict[str, list[str]]:
        """Bring stored pool configs into today's ranges (a config stored by an older version may hold values
        it no longer accepts, and would not decode anywhere): each such number moves to the nearest accepted
        value and the config is stored again. Returns what moved, by pool; a config that still cannot be read
        is left as it is (its pool stays unusable until ``pool set`` replaces it)."""
        moved: dict[str, list[str]] = {}
        for name in await self.names():
            try:
                entry = await self.pools.get(name)
            except KeyNotFoundError:
                continue
            if not entry.value:
                continue
            try:
                decode(PoolConfig, entry.value)
                continue
            except BadMessage:
                pass
            try:
                fixed, notes = into_range(PoolConfig, msgspec.json.decode(entry.value))
                config = msgspec.convert(fixed, PoolConfig)
            except (msgspec.DecodeError, msgspec.ValidationError, TypeError, AttributeError):
                moved[name] = []
                continue
            await self.save_config(config)
            moved[name] = notes
        return moved

    async def config(self, pool: str) -> PoolConfig | None:
        found = await get_struct(self.pools, pool, PoolConfig)
        return None if found is None else found[0]

    async def state(self, pool: str) -> tuple[DesiredState, int]:
        """The desired state and its revision (0 when none was written yet)."""
        found = await get_struct(self.desired, pool, DesiredState)
        return found if found is not None else (DesiredState(pool=pool, desired=0), 0)

    async def write_state(self, state: DesiredState, revision: int) -> None:
        try:
            if revision:
                await self.desired.update(state.pool, encode(state), last=revision)
            else:
                await self.desired.create(state.pool, encode(state))
        except KeyWrongLastSequenceError as exc:
            raise Conflict(f"pool {state.pool!r} changed concurrently; try again") from exc

    async def save_config(self, config: PoolConfig) -> None:
        await ensure_task_queue(self.js, config)
        await put_struct(self.pools, config.name, config)

    async def names(self) -> list[str]:
        """Every defined pool, sorted. Read from the bucket stream's subjects, not with ``KeyValue.keys()``: its
        watcher can end before the first key arrives on a busy server, and then reports no keys at all (a
        restarted policy then missed its auto pools). Deleted keys keep a subject: they are left out."""
        prefix = f"$KV.{subjects.POOLS_BUCKET}."
        info = await self.js.stream_info(f"KV_{subjects.POOLS_BUCKET}", subjects_filter=f"{prefix}>")
        keys = sorted(subject.removeprefix(prefix) for subject in (info.state.subjects or {}))
        return [key for key in keys if await self.config(key) is not None]
