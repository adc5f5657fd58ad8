"""Fault injection switches of the simulated exchange.

Faults change only what is sent (or refused), never the market model: the true book stays exact, so
a test can always tell whether a client recovered. Every switch can be flipped while the exchange runs.
Random decisions are seeded: the exchange-wide ones (gaps) from ``seed``, the per-frame ones from
``seed`` and the connection number, so a run with the same seed and the same client actions injects
the same faults.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum

__all__ = ["FaultConfig", "FrameKind", "plan_frame"]

_PROBABILITIES = frozenset(
    {
        "garbage_probability",
        "truncate_probability",
        "oversize_probability",
        "gap_probability",
        "duplicate_probability",
        "reorder_probability",
    }
)


class FrameKind(StrEnum):
    """What one outgoing frame is, for the per-connection counters."""

    DATA = "data"
    CONTROL = "control"
    GARBAGE = "garbage"
    TRUNCATED = "truncated"
    OVERSIZED = "oversized"
    DUPLICATE = "duplicate"


@dataclass
class FaultConfig:
    """Live fault switches (all off by default).

    Parameters
    ----------
    seed : int
        Seed of the fault decisions (independent of the market seed).
    drop_after_frames : int or None
        Close each connection's TCP stream, without a WebSocket close frame, right after its N-th
        market-data frame.
    garbage_probability : float
        Per data frame, probability to send an unparseable frame before it.
    truncate_probability : float
        Per data frame, probability to send it cut short instead (the client loses that update).
    oversize_probability : float
        Per data frame, probability to send an ``oversize_bytes`` frame after it.
    oversize_bytes : int
        Size of oversized frames; the default exceeds the 1 MiB ``max_size`` of ``websockets``.
    gap_probability : float
        Per depth delta, probability that it is sent to nobody: a sequence gap for every client.
    duplicate_probability : float
        Per data frame, probability to send it twice.
    reorder_probability : float
        Per data frame, probability to swap it with the next queued frame.
    rest_delay : float
        Seconds a REST depth snapshot waits before it is taken and answered (slow snapshots: the
        stream moves on meanwhile).
    stale_snapshot_ids : int
        REST depth snapshots return the book from this many update ids ago (clamped to the history).
    reject_auth : bool
        Every auth check fails (signatures, listen keys, login messages).
    silent : bool
        Send nothing on any WebSocket (frames are discarded) while the sockets stay open.
    refuse_connections : bool
        Answer WebSocket handshakes and REST requests with HTTP 503.
    refuse_status : int
        The HTTP status of those refusals (503 by default; 429 for rate limiting).
    refuse_retry_after : float or None
        ``Retry-After`` seconds sent with those answers (None: no header).
    unknown_symbols : int
        After each depth delta (and each top-N partial-depth push), send frames (``unknown_frames_per_delta``
        of them) for symbols nobody subscribed, cycling through this many distinct fabricated names (0: off).
    unknown_frames_per_delta : int
        How many such frames follow each real delta.
    linger_after_unsubscribe : float
        Seconds an unsubscribed stream keeps being sent (frames in flight after ``unsubscribe()``).
    id_restart : bool
        Update ids on the wire restart from 1 (as after an exchange maintenance): the next delta of each
        symbol is numbered 1, REST snapshots too; switching it off returns to the model's ids (a jump).
    ids_past_int64 : bool
        Depth deltas carry update ids past the int64 range (the model id + 2**63).
    snapshot_ahead_ids : int
        REST depth snapshots claim an update id this far ahead of the book they hold (a misbehaving cache).
    silent_symbols : tuple of str
        Frames of these symbols are discarded (the model goes on) while the connections stay open.
    """

    seed: int = 0
    drop_after_frames: int | None = None
    garbage_probability: float = 0.0
    truncate_probability: float = 0.0
    oversize_probability: float = 0.0
    oversize_bytes: int = 2 * 1024 * 1024
    gap_probability: float = 0.0
    duplicate_probability: float = 0.0
    reorder_probability: float = 0.0
    rest_delay: float = 0.0
    stale_snapshot_ids: int = 0
    reject_auth: bool = False
    silent: bool = False
    refuse_connections: bool = False
    refuse_status: int = 503
    refuse_retry_after: float | None = None
    unknown_symbols: int = 0
    unknown_frames_per_delta: int = 10
    linger_after_unsubscribe: float = 0.0
    id_restart: bool = False
    ids_past_int64: bool = False
    snapshot_ahead_ids: int = 0
    silent_symbols: tuple[str, ...] = ()
    silent_until: float = 0.0
    """``time.monotonic()`` until which the exchange is silent (see :meth:`silence`)."""
    refuse_until: float = 0.0
    """``time.monotonic()`` until which connections are refused (see :meth:`refuse`)."""

    def __setattr__(self, name: str, value: object) -> None:
        # Validate on every assignment: switches are flipped at run time, not only at construction.
        if name in _PROBABILITIES:
            p = float(value)  # type: ignore[arg-type]
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")
            value = p
        elif name in ("drop_after_frames",) and value is not None:
            if int(value) < 1:  # type: ignore[call-overload]
                raise ValueError(f"drop_after_frames must be >= 1 or None, got {value!r}")
        elif name in ("oversize_bytes", "stale_snapshot_ids", "unknown_symbols", "unknown_frames_per_delta",
                      "snapshot_ahead_ids") and int(value) < 0:  # type: ignore[call-overload]
            raise ValueError(f"{name} must be >= 0, got {value!r}")
        elif name == "linger_after_unsubscribe" and float(value) < 0:  # type: ignore[arg-type]
            raise ValueError(f"linger_after_unsubscribe must be >= 0, got {value!r}")
        elif name == "silent_symbols":
            value = tuple(value)  # type: ignore[call-overload]
        elif name == "rest_delay" and float(value) < 0:  # type: ignore[arg-type]
            raise ValueError(f"rest_delay must be >= 0, got {value!r}")
        object.__setattr__(self, name, value)

    def silence(self, seconds: float) -> None:
        """Go silent for ``seconds`` from now (frames produced meanwhile are discarded)."""
        self.silent_until = time.monotonic() + seconds

    def refuse(self, seconds: float) -> None:
        """Refuse WebSocket handshakes and REST requests (HTTP 503) for ``seconds`` from now."""
        self.refuse_until = time.monotonic() + seconds

    @property
    def is_silent(self) -> bool:
        """True while the silence switch is on or a :meth:`silence` period runs."""
        return self.silent or time.monotonic() < self.silent_until

    @property
    def is_refusing(self) -> bool:
        """True while the refuse switch is on or a :meth:`refuse` period runs."""
        return self.refuse_connections or time.monotonic() < self.refuse_until

    def clear(self) -> None:
        """Switch every fault off (the seed is kept)."""
        for f in fields(self):
            if f.name != "seed":
                setattr(self, f.name, f.default)

    def connection_rng(self, conn_id: int) -> random.Random:
        """The seeded random source of one connection's frame faults."""
        return random.Random(f"fault:{self.seed}:{conn_id}")


def plan_frame(
    faults: FaultConfig,
    rng: random.Random,
    frame: str | bytes,
    make_garbage: Callable[[random.Random], str | bytes],
) -> list[tuple[FrameKind, str | bytes | None]]:
    """Decide what goes on the wire for one market-data frame.

    Returns the frames in order with their kind. The oversized frame is returned as ``None`` (the
    caller builds it: it is megabytes). ``make_garbage`` is the protocol's garbage-frame factory.
    Draws happen in a fixed order and only for faults that are on, so a seed reproduces the plan.
    """
    plan: list[tuple[FrameKind, str | bytes | None]] = []
    if faults.garbage_probability and rng.random() < faults.garbage_probability:
        plan.append((FrameKind.GARBAGE, make_garbage(rng)))
    if faults.truncate_probability and len(frame) >= 2 and rng.random() < faults.truncate_probability:
        plan.append((FrameKind.TRUNCATED, frame[: rng.randint(1, len(frame) - 1)]))
    else:
        plan.append((FrameKind.DATA, frame))
        if faults.duplicate_probability and rng.random() < faults.duplicate_probability:
            plan.append((FrameKind.DUPLICATE, frame))
    if faults.oversize_bytes and faults.oversize_probability and rng.random() < faults.oversize_probability:
        plan.append((FrameKind.OVERSIZED, None))
    return plan
