"""Proving the crossing log intact: every gate's hash chain, and signed checkpoints of it.

Above the features whose rows it reads (crossings, devices, signing); the audit trail
(``gate.audit``: events and ``record_event``) stays below every feature.
"""
