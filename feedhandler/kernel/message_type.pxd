# cython: language_level=3
"""The one ``MessageType``: what a frame is (``cimport`` it; Python sees ``feedhandler.core.types.MessageType``).

Compiled decoders return these ints from ``c_feed``/``feed``/``classify``; ``-1`` is never a
``MessageType`` (it means a Python exception is set).
"""

cpdef enum MessageType:
    UNKNOWN = 0
    DATA = 1               # market/user data: parsed into events
    SUBSCRIPTION_ACK = 2
    PONG = 3
    ERROR = 4              # an error message from the exchange
    PING = 5               # an application-level ping the client must answer
    AUTH_ACK = 6
    RECONNECT = 7          # the server announced it will close (e.g. Binance serverShutdown)
