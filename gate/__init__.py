"""The office server: registry, issuing, the authoritative scan API, the crossing log and audit."""
