"""One agent's pull requests to its pool's shared durable consumer, with a clean way out.

nats-py's ``fetch`` leaves its pull request pending when cancelled; draining then waits it out. This
puller owns its inbox, so closing it ends the interest at once and hands back any task that slipped in.
It keeps at most one pull request open and costs no asyncio task per pull: the inbox callback queues
what arrives and wakes the one waiting ``next``.

A request asks for ``prefetch`` tasks (1 by default: an agent holds no task it is not running). Pools of
many short tasks raise it, so that one request, one wake-up and one write serve several tasks. A task
waiting its turn here gets in-progress signals like a running one, so JetStream does not hand it to
another agent meanwhile (nor count a delivery against its attempts).
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import suppress

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from .progress import InProgress

log = structlog.get_logger()

DRAIN_WAIT = 2.0
"""Seconds a closing puller waits for the round trip that brings in a task on its way."""

EXPIRED = ("408", "404")
"""Statuses that end a pull request without a task: it expired (or, for a no-wait pull, found none)."""

NO_CONSUMER = "503"
"""Status of a pull request nobody answered: the pool's stream or consumer does not exist."""


class PullFailed(Exception):
    """The server refused a pull request (consumer deleted, too many waiting pulls...)."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(f"pull request refused: {status} {detail}".strip())
        self.status = status


class Puller:
    def __init__(
        self,
        nc: Client,
        stream: str,
        consumer: str,
        *,
        prefetch: int = 1,
        ack_wait: float = 30.0,
        background: set[asyncio.Task[None]] | None = None,
    ) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._prefetch = prefetch
        self._ack_wait = ack_wait
        self._background: set[asyncio.Task[None]] = set() if background is None else background
        self._ready: deque[tuple[Msg, InProgress | None]] = deque()
        self._refused: PullFailed | None = None
        self._owed = 0
        """Tasks the open pull request may still deliver (0: no request open)."""
        self._waiter: asyncio.Future[None] | None = None
        self._sub: Subscription | None = None

    @property
    def held(self) -> int:
        """Tasks delivered and not yet taken."""
        return len(self._ready)

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)

    async def next(self, expires: float) -> Msg | None:
        """The next task; None when the pull request expired without one or ``interrupt`` was called."""
        if self._ready:
            return self._take()
        if not self._owed:
            await self._nc.publish(self._next_subject, _request(self._prefetch, expires), reply=self._inbox)
            self._owed = self._prefetch
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(expires + 2.0):
                await self._waiter
        except TimeoutError:
            self._owed = 0  # the server's expiry notice went missing: ask again
        finally:
            self._waiter = None
        if self._refused is not None:
            refused, self._refused = self._refused, None
            raise refused
        return self._take() if self._ready else None

    def _take(self) -> Msg:
        msg, keepalive = self._ready.popleft()
        if keepalive is not None:
            keepalive.cancel()
        return msg

    def interrupt(self) -> None:
        """Make a waiting ``next`` return None now (the agent is stopping)."""
        self._wake()

    def reconnected(self) -> None:
        """The connection came back: an open pull request died with the old one (a restarted server forgets it),
        so a waiting ``next`` returns None now and the next one asks again, instead of idling out the request's
        expiry while tasks wait."""
        self._owed = 0
        self._wake()

    async def _on_msg(self, msg: Msg) -> None:
        status = _status(msg)
        if status is None:
            # Only a task that will wait behind another needs in-progress signals while it waits.
            waits = self._prefetch > 1 and (bool(self._ready) or self._waiter is None)
            self._ready.append((msg, InProgress(msg, self._ack_wait, self._background) if waits else None))
            self._owed = max(0, self._owed - 1)
        elif status == "100":  # an idle heartbeat: the request is still open
            return
        else:
            self._owed = 0
            if status not in EXPIRED:
                self._refused = PullFailed(status, (msg.headers or {}).get("Description", ""))
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def close(self) -> int:
        """Stop pulling; any task delivered meanwhile is handed back (nak) for another agent. Returns how many.

        The inbox is drained, not just unsubscribed: the server may have handed a task to the open pull request
        just before it learnt of the end of interest, and that task is on its way. A round trip after the
        unsubscribe brings it in (to be handed back); dropped, it would count as delivered, wait out its
        ``ack_wait`` and then wait for an agent to pull again, which a pool scaled to zero never does."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await asyncio.wait_for(sub.drain(), DRAIN_WAIT)
            except Exception as exc:  # NATS gone or slow: what was on its way is redelivered after ack_wait
                log.warning(
                    "could not drain the pull inbox; a task on its way comes back after ack_wait", error=str(exc)
                )
                with suppress(Exception):
                    await sub.unsubscribe()
        returned = 0
        while self._ready:
            await self._take().nak()
            returned += 1
        return returned


_REQUESTS: dict[tuple[int, float], bytes] = {}


def _request(batch: int, expires: float) -> bytes:
    """The pull request for ``batch`` tasks, open up to ``expires`` seconds (encoded once per value)."""
    body = _REQUESTS.get((batch, expires))
    if body is None:
        body = _REQUESTS[batch, expires] = b'{"batch":%d,"expires":%d}' % (batch, int(expires * 1e9))
    return body


def _status(msg: Msg) -> str | None:
    if msg.headers and "Status" in msg.headers:
        return msg.headers["Status"]
    return None
