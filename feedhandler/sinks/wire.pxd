# cython: language_level=3
"""The bus wire layout, shared by the encoder (``feedhandler.sinks``) and the follower (``feedhandler.bus``).

Fixed little-endian layout (every supported host is little-endian: x86_64, aarch64), 8-byte aligned:

Message (one NATS message = one batch of records of ONE stream, i.e. one subject)::

    off  0  u32  magic  WIRE_MAGIC ("FHB1")
    off  4  u16  number of records
    off  6  u8   length of the exchange name (bytes, UTF-8)
    off  7  u8   length of the symbol (bytes, UTF-8)
    off  8  u64  session id (random per publisher run: a new one means "publisher restarted")
    off 16  exchange bytes, symbol bytes, zero padding to a multiple of 8
    ...     records

Record header (48 bytes)::

    off  0  u8   kind (REC_*)
    off  1  u8   flags (FLAG_VALID: the publisher's book was valid; FLAG_EXCHANGE_SNAPSHOT: the
                 exchange's own snapshot, BookUpdate.is_snapshot)
    off  2  u16  n_bids   (book records)
    off  4  u16  n_asks   (book records)
    off  6  u16  text length (status reason / trade id text), padded to 8 after the body
    off  8  i64  seq: per stream, +1 for every record; a hole is a lost record
    off 16  i64  first update id
    off 24  i64  last update id
    off 32  i64  exchange_ts_ns
    off 40  i64  recv_ns (the publisher's monotonic receive time)

Bodies: book delta/snapshot: ``n_bids + n_asks`` levels of (f64 price, f64 qty), bids first, best
first (a delta level with qty 0 deletes the price); trade: f64 price, f64 qty, i64 side, i64 trade id
(32 bytes); book ticker: f64 bid, bid qty, ask, ask qty (32 bytes); ticker: f64 last, high, low, volume,
quote volume, change % (48 bytes); kline: i64 open time, i64 close time, f64 open, high, low, close,
volume, quote volume, i64 closed (72 bytes, the interval as text); status: no body. Then the text.
"""
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

cdef enum:
    WIRE_MAGIC = 0x31424846      # b"FHB1" read as a little-endian u32
    MSG_HEADER = 16
    REC_HEADER = 48
    LEVEL_BYTES = 16
    REC_BOOK_DELTA = 1
    REC_BOOK_SNAPSHOT = 2
    REC_STATUS = 3
    REC_TRADE = 4
    REC_BOOK_TICKER = 5
    REC_TICKER = 6
    REC_KLINE = 7
    FLAG_VALID = 1
    FLAG_EXCHANGE_SNAPSHOT = 2
    MAX_LEVELS_PER_SIDE = 65535
    MAX_TEXT = 65535


# The fixed bodies after a record header (packed: read and written in place at any offset).
cdef packed struct TradeBody:            # 32 bytes
    double price
    double qty
    int64_t side
    int64_t trade_id

cdef packed struct BookTickerBody:       # 32 bytes
    double bid_price
    double bid_qty
    double ask_price
    double ask_qty

cdef packed struct TickerBody:           # 48 bytes
    double last
    double high
    double low
    double volume
    double quote_volume
    double change_pct

cdef packed struct KlineBody:            # 72 bytes
    int64_t open_time_ns
    int64_t close_time_ns
    double open
    double high
    double low
    double close
    double volume
    double quote_volume
    int64_t closed


cdef inline Py_ssize_t pad8(Py_ssize_t n) noexcept nogil:
    return (n + 7) & ~(<Py_ssize_t>7)


# Native (little-endian) loads and stores of the layout's scalars at any byte offset: memcpy, so an
# unaligned field is never read through a misaligned pointer (each compiles to one load or store).
cdef extern from *:
    """
    #include <string.h>
    #define FH_WIRE_SCALAR(T, name) \\
        static inline T fh_get_##name(const unsigned char* p) { T v; memcpy(&v, p, sizeof v); return v; } \\
        static inline void fh_put_##name(char* p, T v) { memcpy(p, &v, sizeof v); }
    FH_WIRE_SCALAR(uint16_t, u16)
    FH_WIRE_SCALAR(uint32_t, u32)
    FH_WIRE_SCALAR(int64_t, i64)
    FH_WIRE_SCALAR(double, f64)
    """
    uint16_t get_u16 "fh_get_u16"(const unsigned char* p) noexcept nogil
    uint32_t get_u32 "fh_get_u32"(const unsigned char* p) noexcept nogil
    int64_t get_i64 "fh_get_i64"(const unsigned char* p) noexcept nogil
    double get_f64 "fh_get_f64"(const unsigned char* p) noexcept nogil
    void put_u16 "fh_put_u16"(char* p, uint16_t v) noexcept nogil
    void put_u32 "fh_put_u32"(char* p, uint32_t v) noexcept nogil
    void put_i64 "fh_put_i64"(char* p, int64_t v) noexcept nogil
    void put_f64 "fh_put_f64"(char* p, double v) noexcept nogil
