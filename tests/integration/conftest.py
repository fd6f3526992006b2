"""Fixtures the integration tests share: the secured bus (``tests/secured.py``)."""

from tests.secured import keys, secured, secured_server

__all__ = ["keys", "secured", "secured_server"]
