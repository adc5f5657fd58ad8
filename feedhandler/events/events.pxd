# cython: language_level=3
"""Normalized events handed to the engine, and the pools they come from.

Parsers ``cimport`` this header and fill events directly (``cdef readonly``
fields are assignable from Cython code that cimports the class, read-only
from Python)::

    from feedhandler.events.events cimport EventPool, Trade, SIDE_BUY

    cdef Trade t = <Trade>pool.acquire()   # pool = EventPool(Trade, 256)
    t.exchange = "mexc"; t.symbol = symbol
    t.price = price; t.qty = qty; t.side = SIDE_BUY
    t.trade_id = -1; t.trade_id_str = ""    # set every field: the object is reused

An event taken from a pool is valid until the handler returns: after ``size``
more acquisitions from the same pool the same object is filled again. Keep one
with ``event.copy()``. The ``<Trade>`` cast is unchecked: the pool must have
been built for that class.

Prices and quantities are float64 ``double``; ids and timestamps ``int64_t``
(never narrowed); timestamps are ns (``exchange_ts_ns``: since the epoch, 0 if
unknown; ``recv_ns``: monotonic, when the frame was received).
"""
cimport cython
from libc.stdint cimport int64_t

cdef enum:
    # Trade/order side; Python sees the same values as ``Side``.
    SIDE_UNKNOWN = 0
    SIDE_BUY = 1
    SIDE_SELL = 2


cdef class Event:
    """Base of every event: the fields all events carry."""
    cdef readonly str exchange
    cdef readonly str symbol
    cdef readonly int64_t exchange_ts_ns
    cdef readonly int64_t recv_ns


@cython.final
cdef class Trade(Event):
    cdef readonly double price
    cdef readonly double qty
    cdef readonly int side             # taker side: SIDE_*
    cdef readonly int64_t trade_id     # -1 if the exchange id is not an integer
    cdef readonly str trade_id_str     # the id as text when trade_id is -1, else ''
    cpdef Trade copy(self)


@cython.final
cdef class BookTicker(Event):
    cdef readonly double bid_price
    cdef readonly double bid_qty
    cdef readonly double ask_price
    cdef readonly double ask_qty
    cdef readonly int64_t update_id    # book version / update id, 0 if none
    cpdef BookTicker copy(self)


@cython.final
cdef class Kline(Event):
    cdef readonly str interval
    cdef readonly int64_t open_time_ns  # ns since the epoch
    cdef readonly int64_t close_time_ns
    cdef readonly double open
    cdef readonly double high
    cdef readonly double low
    cdef readonly double close
    cdef readonly double volume
    cdef readonly double quote_volume
    cdef readonly bint closed          # the interval is final
    cpdef Kline copy(self)


@cython.final
cdef class Ticker(Event):
    cdef readonly double last
    cdef readonly double high
    cdef readonly double low
    cdef readonly double volume
    cdef readonly double quote_volume
    cdef readonly double change_pct    # percent
    cpdef Ticker copy(self)


@cython.final
cdef class BookUpdate(Event):
    cdef readonly object book          # the live OrderBook: valid until the handler returns
    cdef readonly int64_t first_update_id
    cdef readonly int64_t last_update_id
    cdef readonly bint is_snapshot
    cdef readonly int64_t parsed_ns
    cdef readonly int64_t applied_ns
    cpdef BookUpdate copy(self)


@cython.final
cdef class BookStatus(Event):
    cdef readonly bint valid
    cdef readonly str reason
    cdef readonly int64_t update_id
    cpdef BookStatus copy(self)


@cython.final
cdef class OrderUpdate(Event):
    cdef readonly str order_id
    cdef readonly str client_order_id
    cdef readonly int side             # SIDE_*
    cdef readonly str order_type
    cdef readonly str status
    cdef readonly double price
    cdef readonly double qty
    cdef readonly double filled_qty
    cdef readonly double avg_price
    cpdef OrderUpdate copy(self)


@cython.final
cdef class Fill(Event):
    cdef readonly str order_id
    cdef readonly str trade_id
    cdef readonly int side             # SIDE_*
    cdef readonly double price
    cdef readonly double qty
    cdef readonly double fee
    cdef readonly str fee_asset
    cdef readonly bint is_maker
    cpdef Fill copy(self)


@cython.final
cdef class BalanceUpdate(Event):
    cdef readonly str asset
    cdef readonly double free
    cdef readonly double locked
    cpdef BalanceUpdate copy(self)


@cython.final
cdef class EventPool:
    """A ring of ``size`` preallocated events of one class, reused in turn."""
    cdef readonly type cls
    cdef readonly Py_ssize_t size
    cdef list _ring          # exactly ``size`` instances of ``cls``, never resized
    cdef Py_ssize_t _next    # index of the next object to hand out, in [0, size)
    cpdef object acquire(self)
