"""The actuators' entries in the ``agentscaler-hosts`` bucket, as the policy (``pool set`` is refused when no
live actuator would run the pool) and the CLI (``pool set`` reports handlers the hosts cannot load) read them."""

from __future__ import annotations

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.errors import NoKeysError

from .. import subjects
from ..codec import BadMessage
from ..messages.hosts import ActuatorInfo
from .jetstream import bucket, get_struct

log = structlog.get_logger()


async def actuators(js: JetStreamContext) -> list[ActuatorInfo]:
    """Every actuator's latest entry (gone ones included: the caller judges liveness); none when the bucket
    cannot be read (each actuator still refuses what its host does not allow)."""
    try:
        kv = await bucket(js, subjects.HOSTS_BUCKET)
        keys = await kv.keys()
    except NoKeysError:
        return []
    except (nats.errors.Error, TimeoutError) as exc:
        log.warning("cannot read the actuators' allow-lists; pool set is not checked against them", error=str(exc))
        return []
    found = []
    for key in keys:
        try:
            entry = await get_struct(kv, key, ActuatorInfo)
        except BadMessage as exc:
            log.warning("ignoring an unreadable actuator entry", host=key, error=str(exc))
            continue
        if entry is not None:
            found.append(entry[0])
    return found
