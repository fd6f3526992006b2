"""Discovery and statistics of the services through NATS micro: each service process registers a micro service
(``agentscaler-<service>``) on its connection, so ``$SRV.PING``, ``$SRV.INFO`` and ``$SRV.STATS`` (``nats micro
ls``, ``nats micro info agentscaler-policy``) find every instance, its request endpoints with their request and
response JSON Schemas, and each endpoint's request, error and processing-time counts.

The endpoints are micro endpoints: micro subscribes them (with their queue group) and counts them, and
:func:`~agentscaler.shared.bus.rpc.responder` answers, as for :func:`~agentscaler.shared.bus.rpc.serve`: same
decoding, tracing, log context, audit and :class:`Error` replies. A refused or failed request is answered with
its :class:`Error` body (not micro's error headers, which the contract does not use) and counted as an error.
The service lives as long as its connection: a leased service's term connection takes it along when it ends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, get_args

import msgspec
from nats import micro
from nats.aio.client import Client
from nats.micro.request import Request
from nats.micro.service import EndpointConfig, Service

from .. import subjects
from ..messages.base import API_VERSION
from ..messages.commands import Error
from .rpc import Recorder, responder


def package_version() -> str:
    """agentscaler's version (a micro service's ``version``: semantic versioning)."""
    try:
        return version("agentscaler")
    except PackageNotFoundError:  # running from a tree that was never installed
        return "0.0.0"


def endpoint_name(subject: str) -> str:
    """A micro endpoint name (letters, digits, ``-``, ``_``) for ``subject``: ``agentscaler.cmd.as.*`` is
    ``cmd-as-any``."""
    tail = subject.removeprefix(f"{subjects.PREFIX}.").replace("*", "any")
    return re.sub(r"[^A-Za-z0-9_-]", "-", tail)


def schema_metadata(request_type: Any, reply_type: Any) -> dict[str, str]:
    """An endpoint's metadata: the JSON Schemas of its request and its reply (or an :class:`Error`)."""
    replies = (reply_type,) if Error in get_args(reply_type) else (reply_type, Error)
    return {
        "api_version": API_VERSION,
        "request_schema": json.dumps(json_schema(request_type), sort_keys=True),
        "response_schema": json.dumps(json_schema(*replies), sort_keys=True),
    }


def json_schema(*types: Any) -> dict[str, Any]:
    """The JSON Schema of a value of any of ``types`` (an untagged reply and an :class:`Error` are told apart
    by the error's ``type`` field, which msgspec's own union schema cannot express)."""
    schemas, defs = msgspec.json.schema_components(types)
    one = schemas[0] if len(schemas) == 1 else {"anyOf": list(schemas)}
    return {**one, "$defs": defs}


class Discoverable:
    """A service's micro service: add its request endpoints with :meth:`serve`."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def serve(
        self,
        subject: str,
        request_type: Any,
        reply_type: Any,
        handler: Callable[[Any], Awaitable[Any]],
        *,
        queue: str,
        context: Callable[[Any], dict[str, str]] | None = None,
        record: Recorder | None = None,
    ) -> None:
        """Answer requests on ``subject`` in queue group ``queue`` as :func:`~.rpc.serve` does, as an endpoint
        of this service whose metadata holds the schemas of ``request_type`` and ``reply_type``."""
        answer = responder(subject, request_type, handler, context=context, record=record)
        counted: list[Any] = []

        async def on_request(req: Request) -> None:
            reply = await answer(req._msg)  # the message itself: the audit and tracing read its headers
            if isinstance(reply, Error) and counted:
                endpoint = counted[0]  # micro counts only handlers that raise: an Error reply is an error too
                endpoint._num_errors += 1
                endpoint._last_error = f"{reply.code}: {reply.message}"

        config = EndpointConfig(
            name=endpoint_name(subject),
            subject=subject,
            queue_group=queue,
            handler=on_request,
            metadata=schema_metadata(request_type, reply_type),
        )
        await self.service.add_endpoint(config)
        counted.append(self.service._endpoints[-1])


async def discoverable(nc: Client, service: str, host: str, description: str) -> Discoverable:
    """Register ``service`` (``policy``, ``monitor``, ...) on ``host`` as a micro service on ``nc``."""
    registered = await micro.add_service(
        nc,
        name=subjects.service_name(service),
        version=package_version(),
        description=description,
        metadata={"api_version": API_VERSION, "host": host, "service": service},
    )
    return Discoverable(registered)
