"""Each nkey user's own reply inbox, ``_INBOX.<its public key>``: the server lets a user subscribe to its own
inbox only (``shared/auth/roles.py``), so nobody reads the replies (task deliveries, results, status) of another."""

from __future__ import annotations

from pathlib import Path

import nkeys

INBOX_ROOT = "_INBOX"


def public_key(seed: bytes) -> str:
    """The public key (``U...``) of an nkey seed (``SU...``)."""
    pair = nkeys.from_seed(bytearray(seed.strip()))
    try:
        return pair.public_key.decode()
    finally:
        pair.wipe()


def inbox_prefix_of(public: str) -> str:
    return f"{INBOX_ROOT}.{public}"


def inbox_prefix(seed_file: str | Path) -> str:
    """The inbox prefix a client connecting with the nkey seed in ``seed_file`` uses."""
    return inbox_prefix_of(public_key(Path(seed_file).read_bytes()))
