"""Type stub of the compiled Bybit v5 decoder (see decoder.pyx); constructor and stats are EventDecoder's."""
from feedhandler.kernel.event_decoder import EventDecoder

class BybitDecoder(EventDecoder):
    """Bybit v5 frames -> events and book updates (compiled, on the kernel's EventDecoder)."""
