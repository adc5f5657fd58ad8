"""Recording raw frames (with receive timestamps and the snapshots used), reading other tools' recordings,
replaying them through the parsers, exporting the events."""
from .compressed import RotatingRecordingWriter, segment_paths, zstd_reader
from .format import KIND_BINARY, KIND_SNAPSHOT, KIND_TEXT, Record, RecordingError, RecordingWriter, read_recording
from .replay import ReplayCheck, ReplaySummary, load_recorded_snapshot, replay
from .sources import FORMATS, KIND_SENT, Recording, detect_format, open_recording, progress_printer
from .transport import RecordingTransport

__all__ = ["FORMATS", "KIND_BINARY", "KIND_SENT", "KIND_SNAPSHOT", "KIND_TEXT", "Record", "Recording",
           "RecordingError", "RecordingTransport", "RecordingWriter", "ReplayCheck", "ReplaySummary",
           "RotatingRecordingWriter", "detect_format", "load_recorded_snapshot", "open_recording",
           "progress_printer", "read_recording", "replay", "segment_paths", "zstd_reader"]
