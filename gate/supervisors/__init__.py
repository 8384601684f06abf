"""Supervisor cards: the office issues, prints and revokes them; gates check them (see
:mod:`gate.supervisors.operations`)."""
