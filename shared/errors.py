"""Error classes shared by services and clients. Permanent errors are the caller's to fix; temporary ones
may succeed when retried."""

from __future__ import annotations


class AgentscalerError(Exception):
    """Base of agentscaler's own errors; ``str()`` is a one-line message saying what to do."""


class NatsUnavailable(AgentscalerError):
    """No NATS server answered at the configured URL."""


class CredentialsRefused(NatsUnavailable):
    """The NATS server refused the connection's credentials (an authorization violation at connect)."""


class NoResponders(AgentscalerError):
    """A request found no service listening on its subject."""


class RequestTimedOut(NoResponders):
    """A service listens on the request's subject but did not answer within the timeout."""


class TimedOut(AgentscalerError):
    """What a command waited for (a count of agents, a drained host, a result) did not happen in time."""


class RequestFailed(AgentscalerError):
    """A service answered a request with an error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
