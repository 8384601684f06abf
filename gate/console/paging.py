"""Keyset paging moved to :mod:`gate.paging` (features page their own queries; entry points
do not build queries). This re-export stays only until ``console/audit_trail.py`` pages
through a query of its feature; new code imports :mod:`gate.paging` from a feature."""

from __future__ import annotations

from gate.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor, Page, PagingError, keyset_page

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Cursor", "Page", "PagingError", "keyset_page"]
