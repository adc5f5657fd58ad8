"""Book rule of Coinbase Advanced Trade ``level2`` (protocols.md section 6).

A book starts from the in-band ``snapshot`` event; updates carry no id of their own. Continuity is the
connection's: ``sequence_num`` increases by 1 over every frame of every channel, and the decoder checks it
(one gap invalidates every book of the connection, each recovered by resubscribing). A book's update id is
the ``sequence_num`` of the frame that changed it; the decoder hands each update over as continuing its
book (first = the book's id + 1, last = ``sequence_num``), so ``LINK_CONTIGUOUS`` applies it in order.
"""
from __future__ import annotations

from feedhandler.sync.book_sync import LinkMode, SequenceRule

COINBASE_BOOK_RULE = SequenceRule("coinbase", LinkMode.LINK_CONTIGUOUS, 1)

__all__ = ["COINBASE_BOOK_RULE"]
