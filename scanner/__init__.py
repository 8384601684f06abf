"""The process at the gate: camera frames, QR decoding, temperature, journal, sync, display."""
