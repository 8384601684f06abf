"""Message catalogues of the web UI (zh_CN, en) and ``catalog.py`` to maintain them."""
