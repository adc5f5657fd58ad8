from typing import Any

class Consumer:
    """Base of compiled consumers: subclass in Cython (``cimport feedhandler.core.consumer``)."""
    def __call__(self, event: Any) -> None: ...
