"""``SyncedMessageParser``: the Python face of a compiled exchange decoder that keeps books.

An exchange's parser is a compiled decoder (a ``cdef class`` with
``cpdef int feed(raw, recv_ns)`` and ``cpdef int classify(raw)``, an
``EventDispatcher`` as ``dispatcher`` and optionally a ``BookSyncGroup`` as
``books``) wrapped by this class, which adds the parts that are Python by
nature: the REST snapshot service, binding handlers, and the migration
guide's ``MessageParser`` interface. ``feed`` is the decoder's own method,
bound on the instance, so the manager's per-frame call goes straight to C.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from ..book import OrderBook
from ..core.strategies import ErrorHandler, EventHandler, Frame, MessageParser
from ..core.types import ChannelType, MessageType
from .book_sync import BookSync, BookSyncGroup
from .service import SnapshotFetcher, SnapshotService


def ticker_mask(channel_types: Iterable[Any]) -> int:
    """What one exchange channel carrying both best bid/offer and 24 h tickers (Bybit ``tickers``, Coinbase
    ``ticker``) delivers: 1 ``BookTicker``, 2 ``Ticker``, 3 both (also when ``channel_types`` asks for neither)."""
    channels = {ChannelType.parse(c) for c in channel_types}
    mask = (1 if ChannelType.BOOK_TICKER in channels else 0) | (2 if ChannelType.TICKER in channels else 0)
    return mask or 3


class SyncedMessageParser(MessageParser):
    """Wraps a compiled decoder; owns the snapshot service of its books.

    Parameters
    ----------
    decoder:
        The compiled decoder.
    snapshot_fetcher:
        ``async fetch(symbol) -> (last_update_id, bids, asks)`` for REST
        snapshots, or None when the stream carries its own snapshots.
    max_concurrency, rate_limit:
        Passed to the :class:`SnapshotService`.
    inband_books:
        Groups whose stream carries its own snapshots (OKX ``books``, Gate.io
        ``spot.obu``...): a book of theirs that needs a snapshot is recovered
        by the manager (``set_book_recovery``: unsubscribe and subscribe its
        book channel again), keyed by the subscribed symbol.
    partial_books:
        The group of partial-depth books (each frame a whole top-N book), keyed by the symbol or
        ``"<SYMBOL>@..."`` (give the group ``key_separator="@"``): the same subscription rules apply to
        it (no book for a symbol never subscribed, closed on unsubscribe, invalid on a lost connection).
    """

    def __init__(
        self,
        decoder: Any,
        snapshot_fetcher: SnapshotFetcher | None = None,
        *,
        max_concurrency: int = 4,
        rate_limit: Any = None,
        inband_books: Iterable[BookSyncGroup] = (),
        partial_books: BookSyncGroup | None = None,
    ):
        self._decoder = decoder
        self.inband_books: list[BookSyncGroup] = list(inband_books)
        self.partial_books: BookSyncGroup | None = partial_books
        self._recover: Callable[[str], None] | None = None
        self.feed = decoder.feed  # type: ignore[method-assign]  # the C entry point, no Python frame between
        self.books: BookSyncGroup | None = getattr(decoder, "books", None)
        self.snapshots: SnapshotService | None = None
        if snapshot_fetcher is not None and self.books is not None:
            self.snapshots = SnapshotService(snapshot_fetcher, max_concurrency=max_concurrency, rate_limit=rate_limit)
            self.books.request_snapshot = self.snapshots.request

    @property
    def decoder(self) -> Any:
        """The compiled decoder (for benchmarks and tests)."""
        return self._decoder

    def bind(self, handler: EventHandler | None, error_handler: ErrorHandler | None = None) -> None:
        super().bind(handler, error_handler)
        self._decoder.dispatcher.handler = handler
        self._decoder.dispatcher.error_handler = error_handler
        for group in self._groups():
            group.report_error = error_handler
        if self.snapshots is not None:
            self.snapshots.error_handler = error_handler

    def get_message_type(self, raw_message: Frame) -> MessageType:
        return MessageType(self._decoder.classify(raw_message))

    def feed(self, raw_message: Frame, recv_ns: int) -> int:  # replaced per instance by the decoder's method
        return self._decoder.feed(raw_message, recv_ns)

    def _groups(self) -> list[BookSyncGroup]:
        """Every BookSyncGroup of the decoder whose books are keyed by symbol (subclasses add theirs)."""
        groups = [self.books] if self.books is not None else []
        extra = [*self.inband_books, *([self.partial_books] if self.partial_books is not None else [])]
        return groups + [g for i, g in enumerate(extra) if g not in groups and g not in extra[:i]]

    def configure(self, config: Any) -> None:
        """Apply ``config.book_depth`` to books not created yet, the discard bounds to every book, and
        :func:`ticker_mask` of ``config.channel_types`` to a decoder that has a ``ticker_mask``."""
        depth = getattr(config, "book_depth", None)
        if depth and self.books is not None:
            self.books.set_depth(int(depth))
        limit = getattr(config, "book_discard_limit", None)
        if limit is not None:
            for group in self._groups():
                group.set_discard_bounds(int(limit), float(getattr(config, "book_discard_timeout", 0.0)))
        if hasattr(self._decoder, "ticker_mask"):
            self._decoder.ticker_mask = ticker_mask(getattr(config, "channel_types", ()))

    def book(self, symbol: str) -> OrderBook | None:
        """The live book of ``symbol`` (None if not seen yet). Valid only while its sync state is LIVE."""
        if self.books is None or symbol not in self.books:
            return None
        return self.books[symbol].book

    def on_connection_lost(self, symbols: Iterable[str]) -> None:
        syms = list(symbols)
        for group in self._groups():
            group.invalidate_all(syms, "connection lost")

    def on_subscribed(self, symbols: Iterable[str]) -> None:
        """From now on books exist for these symbols too, and for no symbol never subscribed."""
        syms = list(symbols)
        for group in self._groups():
            group.subscribe(syms)

    def on_unsubscribed(self, symbols: Iterable[str]) -> None:
        """Close the books (a final ``BookStatus(valid=False, reason="unsubscribed")``), stop their snapshots."""
        syms = list(symbols)
        for group in self._groups():
            group.close(syms, "unsubscribed")
        if self.snapshots is not None:
            self.snapshots.cancel(syms)

    def on_frame_rejected(self, symbols: Iterable[str], now_ns: int) -> None:
        """A frame of the connection carrying ``symbols`` was rejected: it may have been any of their updates."""
        syms = list(symbols)
        for group in self._groups():
            group.note_rejected(syms, now_ns)

    def check_stale(self, symbols: Iterable[str], seconds: float) -> list[str]:
        """Report ``BookStatus(valid=False, reason="stale")`` for the LIVE books of ``symbols`` idle ``seconds``."""
        syms = list(symbols)
        return [s for group in self._groups() for s in group.check_stale(syms, seconds)]

    def set_book_recovery(self, recover: Callable[[str], None] | None) -> None:
        self._recover = recover
        for group in self.inband_books:
            group.request_snapshot = self._request_recovery if recover is not None else None

    def _request_recovery(self, sync: BookSync) -> None:
        # called from the data path (BookSync asks once per need): the manager schedules the work
        if self._recover is not None:
            self._recover(sync.symbol)

    def awaits_snapshot(self, symbol: str) -> bool:
        return any(symbol in g and not g[symbol].is_valid for g in self.inband_books)

    def stats(self) -> dict[str, Any]:
        d = self._decoder.dispatcher
        out: dict[str, Any] = {"events": d.events, "handler_errors": d.handler_errors}
        decoder_stats: Callable[[], dict[str, Any]] | None = getattr(self._decoder, "stats", None)
        if decoder_stats is not None:
            out.update(decoder_stats())
        if self.books is not None:
            out["books"] = {s: self.books[s].stats() for s in self.books.symbols()}
            out["symbols"] = self.books.stats()
        return out

    async def close(self) -> None:
        if self.snapshots is not None:
            await self.snapshots.close()
