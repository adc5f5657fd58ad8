"""Book sequence rule of Bybit v5 ``orderbook.{depth}.{symbol}`` (protocols.md section 6).

The book starts from an in-band ``type: "snapshot"`` (``BookSync.on_full_snapshot`` with its ``u``);
each ``delta``'s ``u`` is the previous ``u`` + 1 on that topic: ``LINK_CONTIGUOUS`` with first = last
= ``u``. A new snapshot (``u == 1`` after a service restart, or any other) replaces the book. ``seq`` is
a cross sequence shared with other topics, not for continuity. There is no REST snapshot: a gap is
recovered by unsubscribing and subscribing the topic again (a fresh snapshot follows the ack).
"""
from __future__ import annotations

from feedhandler.sync.book_sync import LinkMode, SequenceRule

BYBIT_BOOK_RULE = SequenceRule("bybit", LinkMode.LINK_CONTIGUOUS, 1)

__all__ = ["BYBIT_BOOK_RULE"]
