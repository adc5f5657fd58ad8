"""The event classes and their fields, read from ``schema.toml`` (the one definition).

``setup.py`` renders ``events.pxd.in``, ``events.pyx.in`` and ``events.pyi.in``
with this table (Cython's Tempita), so each class's C struct, keyword
``__init__``, ``copy()``, ``to_dict()``, docstring and stub come from one
definition: adding a field is one line of schema.toml. The rendered ``events.pxd``,
``events.pyx`` and ``events.pyi`` are build output (not in git). Plain Python
with no imports of the package, so the build reads it before anything is compiled.
"""
from __future__ import annotations

import os
import textwrap
import tomllib
from typing import NamedTuple


class Field(NamedTuple):
    """One event field: its C type, keyword default and documentation."""

    name: str
    ctype: str  # the Cython type of the ``cdef readonly`` attribute
    default: str  # the keyword default, as Cython/Python source
    doc: str  # the numpydoc line of the class docstring
    note: str = ""  # the comment beside the declaration in events.pxd

    @property
    def pytype(self) -> str:
        """The type the stubs show to Python."""
        return _PYTYPES[self.ctype]

    @property
    def doc_lines(self) -> list[str]:
        """The documentation wrapped for the class docstring."""
        return textwrap.wrap(self.doc, 80)

    @property
    def declaration(self) -> str:
        """The ``cdef readonly`` declaration in events.pxd, with its note."""
        decl = f"{self.ctype} {self.name}"
        return f"{decl:<19}  # {self.note}" if self.note else decl

    @property
    def pydefault(self) -> str:
        """The keyword default as the stubs show it."""
        return "0" if self.default == "SIDE_UNKNOWN" else self.default

    @property
    def init_arg(self) -> str:
        """The parameter of the keyword ``__init__`` (``str`` fields refuse None)."""
        suffix = " not None" if self.ctype == "str" else ""
        return f"{self.ctype} {self.name}{suffix}={self.default}"

    @property
    def init_value(self) -> str:
        """What ``__init__`` stores: a side is checked to be one of ``Side``."""
        return f"_check_side({self.name})" if self.name == "side" else self.name

    @property
    def copy_value(self) -> str:
        """What ``copy()`` stores: the book of a ``BookUpdate`` is copied too."""
        if self.name == "book":
            return "None if self.book is None else self.book.copy()"
        return f"self.{self.name}"


class EventClass(NamedTuple):
    """One concrete event class: its name, docstring summary and own fields."""

    name: str
    summary: str
    fields: tuple[Field, ...]
    copy_doc: str = "An independent copy (for keeping a pooled event past the handler)."


_PYTYPES = {"str": "str", "int64_t": "int", "int": "int", "double": "float", "bint": "bool", "object": "Any"}


def _load() -> tuple[tuple[Field, ...], tuple[EventClass, ...]]:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema.toml"), "rb") as f:
        table = tomllib.load(f)
    base = tuple(Field(*row) for row in table["base_fields"])
    events = tuple(EventClass(e["name"], e["summary"], tuple(Field(*row) for row in e["fields"]),
                              *([e["copy_doc"]] if "copy_doc" in e else []))
                   for e in table["event"])
    return base, events


#: ``BASE_FIELDS``: the fields every event carries (declared on the base ``Event``);
#: ``EVENTS``: the concrete classes, in the order of ``EVENT_CLASSES`` (both from schema.toml).
BASE_FIELDS, EVENTS = _load()

#: ``__all__`` of ``feedhandler.events`` and of the compiled module.
PUBLIC_NAMES: tuple[str, ...] = ("Side", "Event", *(e.name for e in EVENTS), "EventPool", "EVENT_CLASSES")
