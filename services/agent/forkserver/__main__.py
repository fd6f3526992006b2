"""``python -m agentscaler.services.agent.forkserver``: a pool's fork server, started by the actuator."""

import sys

from .server import ForkServer

sys.exit(ForkServer().run())
