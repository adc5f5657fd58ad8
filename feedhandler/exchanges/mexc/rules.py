"""MEXC book sequence rule: aggregated depth ``fromVersion``/``toVersion`` against REST ``lastUpdateId``.

The current official procedure (mexc.com "How to Properly Maintain a Local Copy of the Order
Book"; protocols.md 1.8), with S = the snapshot's ``lastUpdateId``:

4. ``S < firstBuffered.fromVersion`` -> fetch the snapshot again;
5. drop buffered updates with ``toVersion <= S``;
6. first remaining update: ``fromVersion > S + 1`` is a gap -> fetch again;
7. apply it and everything after; each update needs ``fromVersion == previous toVersion + 1``.

``SequenceRule("mexc-spot")`` with the default bracket (``LINK_CONTIGUOUS``, ``bracket_offset=1``)
implements exactly this: ``first_after_snapshot`` skips ``toVersion < S + 1`` (step 5), applies when
``fromVersion <= S + 1 <= toVersion`` and reports a gap when ``fromVersion > S + 1`` (step 6, which
also covers step 4), and ``next_delta`` requires ``fromVersion == local + 1`` (step 7).

Two deliberate differences, both on the safe side:

* Step 4 taken literally would also refetch when ``S == firstBuffered.fromVersion - 1``. That
  snapshot is exactly contiguous with the first buffered update (step 6 accepts it, step 7's rule
  holds), so the rule applies it instead of fetching again: the resulting book is the same.
* In the live stream an update with ``toVersion <= local`` (a duplicate the exchange or network
  repeated) is skipped instead of forcing a re-initialisation; it contains nothing the book lacks.
  Any other discontinuity is a gap and resynchronises.
"""
from __future__ import annotations

from feedhandler.sync.book_sync import LinkMode, SequenceRule

#: Aggregated depth (313) and legacy increase depth (302, fromVersion == toVersion == version).
MEXC_SPOT_RULE = SequenceRule("mexc-spot", LinkMode.LINK_CONTIGUOUS, 1)

__all__ = ["MEXC_SPOT_RULE"]
