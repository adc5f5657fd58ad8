# cython: language_level=3
"""The one ``MessageType`` (definition in ``message_type.pxd``); an ``IntEnum`` for Python."""

MessageType.__doc__ = """What a received frame is, as told by ``MessageParser.get_message_type``.

An ``IntEnum`` (a Cython ``cpdef enum``), so compiled parsers return plain ints from their fast
entry points and Python compares them with ``MessageType`` members.
"""
