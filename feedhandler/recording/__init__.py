"""Recording raw frames (with receive timestamps and the snapshots used) and replaying them."""
from .format import KIND_BINARY, KIND_SNAPSHOT, KIND_TEXT, Record, RecordingError, RecordingWriter, read_recording
from .transport import RecordingTransport

__all__ = ["KIND_BINARY", "KIND_SNAPSHOT", "KIND_TEXT", "Record", "RecordingError", "RecordingTransport",
           "RecordingWriter", "read_recording"]
