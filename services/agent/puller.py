"""One agent's pull requests to its pool's shared durable consumer, with a clean way out.

nats-py's ``fetch`` leaves its pull request pending when cancelled; draining then waits it out. This
puller owns its inbox, so closing it ends the interest at once and hands back any task that slipped in.
"""

from __future__ import annotations

import asyncio
import json

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = structlog.get_logger()


class PullFailed(Exception):
    """The server refused a pull request (consumer deleted, too many waiting pulls...)."""


class Puller:
    def __init__(self, nc: Client, stream: str, consumer: str) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._queue.put)

    async def next(self, expires: float) -> Msg | None:
        """The next task, or None when the pull request expired without one."""
        msg = self._take_ready()
        if msg is not None:
            return msg
        request = {"batch": 1, "expires": int(expires * 1e9)}
        await self._nc.publish(self._next_subject, json.dumps(request).encode(), reply=self._inbox)
        try:
            while True:
                msg = await asyncio.wait_for(self._queue.get(), expires + 2.0)
                status = _status(msg)
                if status is None:
                    return msg
                if status == "408" or status == "404":
                    return None
                if status == "100":
                    continue
                detail = (msg.headers or {}).get("Description", "")
                raise PullFailed(f"pull request refused: {status} {detail}".strip())
        except TimeoutError:
            return None

    def _take_ready(self) -> Msg | None:
        while not self._queue.empty():
            msg = self._queue.get_nowait()
            if _status(msg) is None:
                return msg
        return None

    async def close(self) -> int:
        """Stop pulling; any task delivered meanwhile is handed back (nak) for another agent. Returns how many."""
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        returned = 0
        while (msg := self._take_ready()) is not None:
            await msg.nak()
            returned += 1
        return returned


def _status(msg: Msg) -> str | None:
    if msg.headers and "Status" in msg.headers:
        return msg.headers["Status"]
    return None
