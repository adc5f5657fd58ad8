"""What the bus tests compare: a book's levels as a digest, the same for a follower's OrderBook and
the simulator's true book (so a consumer in another process reports digests, the test recomputes them)."""
from __future__ import annotations

import hashlib


def levels_digest(bids, asks) -> str:
    text = repr(([(float(p), float(q)) for p, q in bids], [(float(p), float(q)) for p, q in asks]))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def book_digest(book, depth: int) -> str:
    d = book.to_dict()
    return levels_digest(d["bids"][:depth], d["asks"][:depth])


def true_digest(sim, symbol: str, update_id: int, depth: int) -> str:
    t = sim.model.true_book(symbol, update_id)
    return levels_digest(t.bids[:depth], t.asks[:depth])
