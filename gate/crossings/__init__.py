"""The crossing log: every decided crossing, append-only and hash-chained per gate."""
