"""``python -m agentscaler.services.agent.probe``: can this host's agents load their pool's handler? Started by the
actuator with an agent's environment (and user) whenever a pool's handler is new to it, so that a handler that is
missing, fails at import or is not a coroutine function is known at ``pool set``, before any agent starts.

Prints nothing and exits 0 when the handler loads; prints why not and exits ``EXIT_CONFIG`` otherwise."""

from __future__ import annotations

import sys

from .handler import HandlerError
from .limits import limit_memory
from .main import EXIT_CONFIG, load_or_error, settings_from_env


def main() -> int:
    settings = settings_from_env()
    if settings is None:
        return EXIT_CONFIG
    limit_memory(settings.memory_limit_mb)  # an import that needs more than an agent may have fails as it would
    handler = load_or_error(settings.handler)
    if isinstance(handler, HandlerError):
        print(handler, flush=True)
        return EXIT_CONFIG
    return 0


if __name__ == "__main__":
    sys.exit(main())
