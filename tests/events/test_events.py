"""Events and event pools: round trips, copies, pool reuse, and filling from Cython."""
from __future__ import annotations

import gc
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedhandler.events import (
    EVENT_CLASSES,
    BookUpdate,
    Event,
    EventPool,
    Side,
    Trade,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class FakeBook:
    """Stands in for an OrderBook: BookUpdate.copy() must copy it via .copy()."""

    def __init__(self, levels: list[float]) -> None:
        self.levels = levels

    def copy(self) -> FakeBook:
        return FakeBook(list(self.levels))


def field_kinds(cls: type) -> dict[str, str]:
    """Field name -> kind, from the defaults of a default-constructed event."""
    kinds = {}
    for name, value in cls().to_dict().items():
        if name == "side":
            kinds[name] = "side"
        elif name == "book":
            kinds[name] = "book"
        else:
            kinds[name] = {str: "str", float: "float", int: "int", bool: "bool"}[type(value)]
    return kinds


KIND_STRATEGY = {
    "str": st.text(max_size=12),
    "float": st.floats(),  # NaN and infinities included: compared bitwise
    "int": st.integers(INT64_MIN, INT64_MAX),
    "bool": st.booleans(),
    "side": st.sampled_from(list(Side)),
    "book": st.none() | st.lists(st.floats(allow_nan=False), max_size=3).map(FakeBook),
}


def values_for(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: KIND_STRATEGY[kind] for name, kind in field_kinds(cls).items()})


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


def assert_values(event: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        got = getattr(event, name)
        if name == "book":
            assert got is value
        else:
            assert same(got, value), (name, got, value)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_to_dict_round_trips_through_init(cls: type, data: st.DataObject) -> None:
    values = data.draw(values_for(cls))
    event = cls(**values)
    assert_values(event, values)
    d = event.to_dict()
    assert set(d) == set(values) >= {"exchange", "symbol", "exchange_ts_ns", "recv_ns"}
    again = cls(**d)
    assert_values(again, d)
    assert repr(again).startswith(f"{cls.__name__}(exchange=")
    copy = event.copy()
    assert type(copy) is cls and copy is not event
    for name in values:
        if name == "book":
            assert (copy.book is None) == (event.book is None)
            if event.book is not None:  # copied, not shared
                assert copy.book is not event.book and copy.book.levels == event.book.levels
        else:
            assert same(getattr(copy, name), getattr(event, name)), name


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_int64_extremes_and_bad_values(cls: type) -> None:
    kinds = field_kinds(cls)
    ints = [name for name, kind in kinds.items() if kind == "int"]
    assert {"exchange_ts_ns", "recv_ns"} <= set(ints)
    for extreme in (INT64_MIN, INT64_MAX):
        event = cls(**{name: extreme for name in ints})
        for source in (event, event.copy(), cls(**event.to_dict())):
            assert all(getattr(source, name) == extreme for name in ints)
    for name in ints:
        for outside in (INT64_MIN - 1, INT64_MAX + 1):
            with pytest.raises(OverflowError):
                cls(**{name: outside})
    for name in (n for n, kind in kinds.items() if kind == "str"):
        with pytest.raises(TypeError):
            cls(**{name: None})
    if "side" in kinds:
        with pytest.raises(ValueError):
            cls(side=3)
    with pytest.raises(TypeError):
        cls(no_such_field=1)
    with pytest.raises(AttributeError):  # read-only from Python
        cls().exchange = "x"


def test_defaults_and_side() -> None:
    trade = Trade()
    assert trade.trade_id == -1 and trade.trade_id_str == "" and trade.side == Side.UNKNOWN
    assert [int(s) for s in Side] == [0, 1, 2] and [s.name for s in Side] == ["UNKNOWN", "BUY", "SELL"]
    assert "side=SELL" in repr(Trade(side=Side.SELL))
    assert BookUpdate().copy().book is None


def test_pool_validation() -> None:
    with pytest.raises(TypeError):
        EventPool(Event)
    with pytest.raises(TypeError):
        EventPool(dict)
    with pytest.raises(ValueError):
        EventPool(Trade, 0)
    pool = EventPool(Trade, 3)
    assert pool.cls is Trade and pool.size == len(pool) == 3


@pytest.mark.parametrize("size", [1, 2, 7, 256])
def test_pool_reuses_objects_in_a_ring(size: int) -> None:
    pool = EventPool(Trade, size)
    first = [pool.acquire() for _ in range(size)]
    assert len({id(e) for e in first}) == size  # distinct within one turn of the ring
    assert all(type(e) is Trade for e in first)
    for turn in range(3):
        for i in range(size):
            assert pool.acquire() is first[i]


def test_pool_allocates_nothing_in_steady_state() -> None:
    n = 20_000
    pool = EventPool(Trade, 64)
    held: list[Any] = [None] * n  # keeps every acquired object alive: a fresh object would count
    for i in range(64):  # warm up: one turn of the ring
        pool.acquire()
    gc.collect()
    gc.disable()
    try:
        before = sys.getallocatedblocks()
        for i in range(n):
            held[i] = pool.acquire()
        after_pool = sys.getallocatedblocks()
        # Control: the same loop that really allocates is seen by this measure.
        for i in range(n):
            held[i] = Trade()
        after_alloc = sys.getallocatedblocks()
    finally:
        gc.enable()
    assert after_pool - before < 50
    assert after_alloc - after_pool >= n // 2


# --- filling events from Cython, as parsers do --------------------------------------------------


def _cython_helper_source() -> str:
    lines = [
        "from libc.stdint cimport int64_t",
        "from feedhandler.events.events cimport *",
        "",
        "def side_constants():",
        "    return SIDE_UNKNOWN, SIDE_BUY, SIDE_SELL",
        "",
        "def acquire_many(EventPool pool, Py_ssize_t n):",
        "    cdef object last = None",
        "    for _ in range(n):",
        "        last = pool.acquire()",
        "    return last",
    ]
    for cls in EVENT_CLASSES:
        name = cls.__name__
        lines += ["", f"def fill_{name}(EventPool pool, dict v):", f"    cdef {name} e = <{name}>pool.acquire()"]
        for field, kind in field_kinds(cls).items():
            lines.append(f"    e.{field} = v[{field!r}]")
        lines.append("    return e")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def filler(tmp_path_factory: pytest.TempPathFactory) -> Any:
    repo = Path(__file__).resolve().parents[2]
    build = tmp_path_factory.mktemp("events_cimport")
    (build / "events_cimport_check.pyx").write_text(_cython_helper_source())
    (build / "setup.py").write_text(
        textwrap.dedent(
            f"""
            from setuptools import setup, Extension
            from Cython.Build import cythonize
            setup(ext_modules=cythonize(
                [Extension("events_cimport_check", ["events_cimport_check.pyx"])],
                include_path=[{str(repo)!r}], compiler_directives={{"language_level": 3}}, quiet=True))
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
        cwd=build, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sys.path.insert(0, str(build))
    try:
        import events_cimport_check  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(build))
    return events_cimport_check


def test_pxd_side_constants_match_python(filler: Any) -> None:
    assert filler.side_constants() == (Side.UNKNOWN, Side.BUY, Side.SELL)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fill_from_cython_then_copy_is_independent(filler: Any, cls: type, data: st.DataObject) -> None:
    fill = getattr(filler, f"fill_{cls.__name__}")
    pool = EventPool(cls, 2)
    first_values = data.draw(values_for(cls))
    event = fill(pool, first_values)
    assert_values(event, first_values)
    kept = event.copy()
    kept_dict = kept.to_dict()
    fill(pool, data.draw(values_for(cls)))  # the other ring slot
    second_values = data.draw(values_for(cls))
    again = fill(pool, second_values)  # overwrites the first event in place
    assert again is event
    assert_values(event, second_values)
    for name, value in kept_dict.items():  # the copy kept the first event
        if name == "book":
            assert (value is None) == (first_values["book"] is None)
            if value is not None:
                assert value is not first_values["book"] and value.levels == first_values["book"].levels
        else:
            assert same(value, first_values[name]), name


def test_acquire_from_cython_reuses(filler: Any) -> None:
    pool = EventPool(Trade, 5)
    first = pool.acquire()
    assert filler.acquire_many(pool, 5) is first
    assert filler.acquire_many(pool, 1) is not first
