"""Type stub of the compiled MessageType (see message_type.pxd)."""
import enum

class MessageType(enum.IntEnum):
    UNKNOWN = 0
    DATA = 1
    SUBSCRIPTION_ACK = 2
    PONG = 3
    ERROR = 4
    PING = 5
    AUTH_ACK = 6
    RECONNECT = 7
