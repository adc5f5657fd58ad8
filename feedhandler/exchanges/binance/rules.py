"""Binance book sequence rules (protocols.md 3.6 and the USD-M futures ``pu`` rule).

Spot (current official procedure, corrected 2025-11-12): drop buffered events with ``u <= lastUpdateId``;
the first applied event contains ``lastUpdateId + 1`` (``U <= lastUpdateId + 1 <= u``); every later event
has ``U == previous u + 1``; ``u < local id`` is ignored; ``U > local id + 1`` is a gap.

USD-M / COIN-M futures: drop ``u < lastUpdateId``; the first event has ``U <= lastUpdateId <= u``; every later
event has ``pu == previous u`` (futures ids are not contiguous, so the spot rule would report false gaps).
"""
from __future__ import annotations

from feedhandler.sync.book_sync import LinkMode, SequenceRule

LINK_PREVIOUS = int(LinkMode.LINK_PREVIOUS)

__all__ = ["SPOT_RULE", "USDM_RULE", "COINM_RULE", "PARTIAL_RULE", "rule_for_market"]

#: Binance spot (and Binance.US): contiguous ``U``/``u``, first event brackets ``lastUpdateId + 1``.
SPOT_RULE = SequenceRule("binance-spot")
#: USD-M futures: ``pu`` continuity, first event brackets ``lastUpdateId``.
USDM_RULE = SequenceRule("binance-usdm", LINK_PREVIOUS, 0)
#: COIN-M futures follow the same ``pu`` rule.
COINM_RULE = SequenceRule("binance-coinm", LINK_PREVIOUS, 0)
#: Partial-depth books (``depth5/10/20``): each frame is a whole snapshot, no continuity is checked.
PARTIAL_RULE = SequenceRule("binance-partial")


def rule_for_market(market: str) -> SequenceRule:
    """The rule of ``market``: ``"spot"``, ``"usdm"`` or ``"coinm"``."""
    try:
        return {"spot": SPOT_RULE, "usdm": USDM_RULE, "coinm": COINM_RULE}[market]
    except KeyError:
        raise ValueError(f"unknown Binance market {market!r}; use 'spot', 'usdm' or 'coinm'") from None
