"""Type stub of the compiled reference decoder (see simjson_decoder.pyx)."""
from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.kernel.decoder import FrameDecoder
from feedhandler.kernel.symbols import SymbolTable
from feedhandler.sync.book_sync import BookSyncGroup

FRAME: Any

class SimJsonKernelDecoder(FrameDecoder):
    """Compiled simjson decoder: depth into a BookSyncGroup, trades, bbo, control frames."""

    dispatcher: EventDispatcher
    books: BookSyncGroup
    symbols: SymbolTable
    def __init__(self, depth: int = 1000) -> None: ...
    def stats(self) -> dict[str, int]: ...
