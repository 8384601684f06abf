"""The process at the gate: camera frames, QR decoding, temperature, local journal, sync, verdict display."""
