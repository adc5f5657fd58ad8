"""Type stub of the compiled Coinbase Advanced Trade decoder (see decoder.pyx); the constructor is EventDecoder's."""
from typing import Any

from feedhandler.kernel.event_decoder import EventDecoder

class CoinbaseDecoder(EventDecoder):
    """Coinbase Advanced Trade frames -> events and book updates (compiled, on the kernel's EventDecoder)."""

    sequence_gaps: int
    stale_frames: int
    expected_sequence: int
    def reset_sequence(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
