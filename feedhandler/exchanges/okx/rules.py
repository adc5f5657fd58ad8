"""Book sequence rule of OKX v5 ``books`` (protocols.md section 6).

Each update's ``prevSeqId`` equals the previous message's ``seqId``; the decoder hands an update over as
``first = prevSeqId, last = seqId, prev = prevSeqId``, so with ``LINK_PREVIOUS`` and ``bracket_offset 0``:

- after a snapshot with ``seqId = S``: an update with ``prevSeqId == S`` applies (``first <= S <= last``),
  one with ``seqId < S`` is older (skipped), one with ``prevSeqId > S`` means updates were lost (gap);
- afterwards ``prevSeqId == local seqId`` applies (heartbeats too: ``seqId == prevSeqId``, no levels),
  ``seqId <= local`` is a duplicate (skipped), anything else is a gap;
- a maintenance reset (``seqId < prevSeqId``) is handed over as ``first = last = seqId`` with its
  ``prevSeqId``: it applies when ``prevSeqId`` continues the chain, which then goes on from the new ``seqId``.

A gap or a checksum mismatch is recovered in band: the manager unsubscribes and subscribes the book
channel again, and the new subscription starts with a snapshot.
"""
from __future__ import annotations

from feedhandler.sync.book_sync import LinkMode, SequenceRule

OKX_BOOKS_RULE = SequenceRule("okx", LinkMode.LINK_PREVIOUS, 0)

__all__ = ["OKX_BOOKS_RULE"]
