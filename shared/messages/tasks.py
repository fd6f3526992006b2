"""Tasks on a pool's work queue and their results."""

from __future__ import annotations

from typing import Any, Literal

from .base import Message


class TaskEnvelope(Message, frozen=True, kw_only=True):
    """One task on ``agentscaler.tasks.<pool>``. Published with header ``Nats-Msg-Id: <id>`` so that a
    resubmission within the stream's duplicate window is dropped."""

    id: str
    pool: str
    payload: Any
    submitted_at: float


class TaskResult(Message, frozen=True, kw_only=True):
    """The outcome of a task, created once under ``<pool>.<id>`` in the results bucket."""

    id: str
    pool: str
    status: Literal["ok", "failed"]
    result: Any = None
    error: str = ""
    attempts: int = 1
    agent_id: str = ""
    submitted_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
