"""The resident's personal link: a phone page showing the household's pass and status.

An entry point only: ``views`` is the blueprint (``/p/<token>``). The links themselves
(issued and revoked with only a hash of the secret stored) and what the page shows live in
``gate.issuing.resident_links``; rotating screen codes are made and checked in
``gate.issuing.screen_codes``.
"""
