"""What ``--json`` prints: a message (or any JSON-able value) as indented JSON on stdout."""

from __future__ import annotations

import sys
from typing import Any

import msgspec

from agentscaler.shared.codec import encode


def print_json(value: Any) -> None:
    sys.stdout.write(msgspec.json.format(encode(value)).decode() + "\n")
