"""Book sequence rules of Gate.io spot (protocols.md 2.9).

``spot.order_book_update`` against the REST snapshot ``id`` (official procedure, steps 4-6):

- drop notifications with ``u < id + 1``                    -> DELTA_SKIP (``last < S + 1``)
- the first applied one has ``U <= id + 1 <= u``            -> ``bracket_offset = 1``
- afterwards ``U == local_id + 1``, else updates were lost  -> ``LINK_CONTIGUOUS``

``SequenceRule.first_after_snapshot`` with bracket_offset 1 is exactly that: SKIP when
``last < S+1``, APPLY when ``first <= S+1`` (and ``last >= S+1``), GAP when ``first > S+1`` (the
"snapshot is behind the stream, go back to step 3" case, which BookSync turns into a new fetch).
``next_delta`` with LINK_CONTIGUOUS applies ``first == local+1``, skips ``last <= local`` (a
duplicate) and reports a gap otherwise: the doc's rule 6.

``spot.obu`` uses the same continuity rule (``U == id + 1``) but has no REST snapshot: the first push
is ``full: true`` and a gap is recovered by unsubscribing and subscribing again.
"""
from __future__ import annotations

from feedhandler.sync.book_sync import LinkMode, SequenceRule

#: spot.order_book_update + REST ``GET /api/v4/spot/order_book?with_id=true``.
GATEIO_SPOT_RULE = SequenceRule("gateio-spot", LinkMode.LINK_CONTIGUOUS, 1)
#: spot.obu (order book v2): full snapshot first, resubscribe on a gap.
GATEIO_OBU_RULE = SequenceRule("gateio-obu", LinkMode.LINK_CONTIGUOUS, 1)
#: futures.order_book_update + REST ``GET /api/v4/futures/usdt/order_book?with_id=true``: the spot procedure
#: (drop ``u < id + 1``, first ``U <= id + 1 <= u``, then ``U == prev u + 1``), as the USDT futures capture shows
#: (316 of 352 updates applied, 0 gaps).
GATEIO_FUTURES_RULE = SequenceRule("gateio-futures", LinkMode.LINK_CONTIGUOUS, 1)

__all__ = ["GATEIO_SPOT_RULE", "GATEIO_OBU_RULE", "GATEIO_FUTURES_RULE"]
