"""Keeping a task's ack wait from running out while this agent holds it."""

from __future__ import annotations

import asyncio

from nats.aio.msg import Msg


class InProgress:
    """Tells JetStream every third of ``ack_wait`` that a task is still being worked on, from a timer (no
    task of its own while nothing is due)."""

    def __init__(self, msg: Msg, ack_wait: float, background: set[asyncio.Task[None]]) -> None:
        self._msg = msg
        self._every = ack_wait / 3
        self._background = background
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(self._every, self._tick)

    def _tick(self) -> None:
        task = self._loop.create_task(self._msg.in_progress())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        self._timer = self._loop.call_later(self._every, self._tick)

    def cancel(self) -> None:
        self._timer.cancel()
