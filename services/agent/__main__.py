"""``python -m agentscaler.services.agent``: one agent process, configured by the actuator's environment.

A drain request can arrive while this process is still importing (the actuator drains agents that have not
started yet first). The stop signals are caught before anything else is imported, so such an agent stops
cleanly instead of dying by signal.
"""

import signal
import sys
import time

_began = time.monotonic()  # for the start time the agent reports: its imports count
_early_stop: list[int] = []
signal.signal(signal.SIGTERM, lambda signum, _: _early_stop.append(signum))
signal.signal(signal.SIGINT, lambda signum, _: _early_stop.append(signum))

from .main import main  # noqa: E402  (the signal handlers above must come first)

sys.exit(main(_early_stop, _began))
