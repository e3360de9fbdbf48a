"""Recording: every stream of a session on the session clock, incrementally, as XDF.

Importing this package opens no file.
"""

from mirrorvr.record.recorder import MARKER_STREAM, RECORDING_NAME, Recorder, StreamHandle
from mirrorvr.record.xdf import StreamInfo, XdfWriter

__all__ = ["MARKER_STREAM", "RECORDING_NAME", "Recorder", "StreamHandle", "StreamInfo",
           "XdfWriter"]
