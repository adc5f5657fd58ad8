from feedhandler.core.consumer import Consumer

class WorkerCounter(Consumer):
    """Counts events and keeps each book's validity (compiled: no Python call per event)."""
    events: int
    valid: dict[str, bool]
    def __init__(self) -> None: ...
