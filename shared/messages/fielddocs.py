"""A message's field docs: the docstring written right below each field, read from the class's source.

Messages document their fields that way (``name: type = default`` then a string); this makes that text
available to whatever shows a field to people (the CLI's flag help), so it is written once.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from functools import cache

import msgspec


@cache
def field_docs(cls: type[msgspec.Struct]) -> dict[str, str]:
    """Each documented field of ``cls`` (base classes' too) and its docstring, cleaned of indentation.
    Fields without one, and every field when the source is not available, are absent."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is msgspec.Struct or not issubclass(klass, msgspec.Struct):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        [node] = ast.parse(source).body
        assert isinstance(node, ast.ClassDef)
        for field, text in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(text, ast.Expr)
                and isinstance(text.value, ast.Constant)
                and isinstance(text.value.value, str)
            ):
                docs[field.target.id] = inspect.cleandoc(text.value.value)
    return docs
