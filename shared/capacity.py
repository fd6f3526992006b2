"""The host CPU figure that room to grow and auto mode share: written once, read by the monitor (its hosts' CPU
room) and the policy's auto core (its hold on a saturated host)."""

from __future__ import annotations

CPU_CEILING = 95.0
"""Host CPU percent that new agents may fill up to: the monitor counts a host's CPU room up to it, and auto
mode adds no agent while a host's CPU is at or above it (more processes would only share the same cores)."""
