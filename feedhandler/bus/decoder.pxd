# cython: language_level=3
"""C-level header of the bus follower's decoder (``cimport feedhandler.bus.decoder``)."""
from libc.stdint cimport int64_t, uint64_t

from feedhandler.book.orderbook cimport OrderBook
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool


cdef class FollowedStream:
    """One stream (exchange, symbol, channel) as a follower sees it."""
    cdef readonly str exchange
    cdef readonly str symbol
    cdef readonly int channel         # 0 book, 1 trades, 2 book ticker, 3 ticker, 4 kline
    cdef readonly uint64_t session    # publisher run the sequence belongs to
    cdef readonly int64_t last_seq    # last record seen (0: none yet)
    cdef readonly bint valid          # book streams: the book equals the publisher's top
    cdef readonly OrderBook book      # book streams only
    cdef readonly int64_t gaps        # holes seen in the sequence
    cdef readonly int64_t records
    cdef bytes _key


cdef class BusDecoder:
    cdef readonly Py_ssize_t depth
    cdef readonly int64_t messages, records, parse_errors, gaps, duplicates
    cdef readonly EventDispatcher dispatcher
    cdef dict _streams                # key bytes -> FollowedStream
    cdef FollowedStream _last
    cdef EventPool _updates, _statuses, _trades, _tickers, _tickers24, _klines
    cdef object _scratch_arr
    cdef double* _scratch             # 4 * 65535 doubles: bid px, bid qty, ask px, ask qty
    cdef int c_feed(self, const unsigned char* p, Py_ssize_t n) except -1
    cdef int _invalidate(self, FollowedStream st, str reason, int64_t uid, int64_t ts, int64_t recv) except -1
    cdef int _status(self, FollowedStream st, bint valid, str reason, int64_t uid, int64_t ts, int64_t recv) except -1
