"""``agentscaler completion bash|zsh|tcsh``: a shell completion script for every command and flag, generated
from the argument parser (shtab) so that it never lags behind it."""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "tcsh")


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell``; imported on use (client commands start faster)."""
    import shtab

    return str(shtab.complete(parser, shell=shell))
