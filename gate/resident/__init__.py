"""The resident's personal link: a phone page showing the household's pass and status.

``operations`` issues and revokes links (only a hash of the secret is stored) and builds what
the page shows (rotating screen codes are made and checked in
``gate.issuing.screen_codes``);
``views`` is the blueprint (``/p/<token>``).
"""
