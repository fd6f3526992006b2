"""Policy decisions, published on ``agentscaler.evt.decision.<pool>`` whenever a desired count changes."""

from __future__ import annotations

from typing import Literal

from .base import Message


class DecisionEvent(Message, frozen=True, kw_only=True):
    pool: str
    previous: int
    desired: int
    rule: str
    """The rule that fired, e.g. ``manual.scale`` or ``manual.clamp_to_max``."""
    reason: str
    """The decision in words."""
    trigger: Literal["command", "snapshot", "config"]
    at: float
