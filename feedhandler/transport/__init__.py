"""Network transports behind one small interface (``websockets`` is the reference)."""
from .base import Transport, TransportConnection, create_transport, register_transport
from .picows_transport import PicowsTransport
from .websockets_transport import WebsocketsTransport

__all__ = ["PicowsTransport", "Transport", "TransportConnection", "WebsocketsTransport", "create_transport", "register_transport"]
