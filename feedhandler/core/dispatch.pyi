from typing import Any, Callable, Final

from feedhandler.core.consumer import Consumer

class EventDispatcher:
    handler: Callable[[Any], Any] | None  # a compiled Consumer is called from C
    error_handler: Callable[[BaseException], Any] | None
    consumer: Final[Consumer | None]
    events: Final[int]
    handler_errors: Final[int]
    def __init__(
        self, handler: Callable[[Any], Any] | None = ..., error_handler: Callable[[BaseException], Any] | None = ...
    ) -> None: ...
    def deliver(self, event: Any) -> None: ...
    def report_error(self, error: BaseException) -> None: ...
