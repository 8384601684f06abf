"""The request is the unit of work (the way Indico's ``RH.process`` does it).

Contract for views::

    from gate.web.unit_of_work import db_session, writes

    @console.post("/households/<code>/quarantine")
    @require_role(*OFFICE_ROLES)
    @writes
    def quarantine(code: str) -> Response:
        set_quarantine(db_session(), ...)   # operations flush, never commit
        return redirect(...)

- Every request has at most one :class:`gate.unit_of_work.UnitOfWork`, opened lazily by
  :func:`db_session`. A view decorated with :func:`writes` gets a writing unit for its
  non-GET requests; every other request (all GETs, dry runs, previews) is read-only: on
  SQLite it never takes the write lock, so office reads never delay a scan.
- The unit commits once, after the view returned a response below 400; a 4xx/5xx response
  or an exception rolls everything back (nothing is half-written).
- ``writes(retry=True)``: the view may be run a second time when the first run lost the
  race for a client id (``IntegrityError``) or lost its database connection; the view then
  commits before returning, so a failure at commit is retried too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from flask import Flask, Response, current_app, g, request

from gate.services import services
from gate.unit_of_work import DbSession, UnitOfWork, is_retryable

_View = TypeVar("_View", bound=Callable[..., Any])
_UNIT = "checkpoint_unit"
_WRITES = "checkpoint_writes"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ON_GET = "get"
"""The ``_WRITES`` mark of a view declared ``writes(get=True)``."""


def configure_unit_of_work(app: Flask) -> None:
    """Commit the request's unit after a successful response; always close it."""
    app.after_request(_commit_on_success)
    app.teardown_request(_close)


@overload
def writes(view: _View, /) -> _View: ...
@overload
def writes(*, retry: bool = False, get: bool = False) -> Callable[[_View], _View]: ...
def writes(view: _View | None = None, /, *, retry: bool = False, get: bool = False) -> Any:
    """Declare that ``view`` may write (for its non-GET requests; with ``get=True`` for its
    GETs too: a download whose operation records an audit event)."""

    def decorate(view: _View) -> _View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not retry:
                return view(*args, **kwargs)
            for attempt in range(2):
                try:
                    result = view(*args, **kwargs)
                    request_unit().commit()
                    return result
                except Exception as exc:
                    if attempt or not is_retryable(exc):
                        raise
                    request_unit().reset()
            raise AssertionError("unreachable")

        # An attribute, not a flag set when the view runs: decorators outside this one
        # (require_role loading the user) may open the unit first. functools.wraps carries
        # it up to the registered view function.
        setattr(wrapper, _WRITES, _ON_GET if get else True)
        return cast(_View, wrapper)

    return decorate(view) if view is not None else decorate


def request_unit() -> UnitOfWork:
    """This request's unit of work (created on first use)."""
    unit = g.get(_UNIT)
    if unit is None:
        unit = UnitOfWork(services().sessions, writes=_request_writes())
        setattr(g, _UNIT, unit)
    return cast(UnitOfWork, unit)


def _request_writes() -> bool:
    if request.endpoint is None:
        return False
    declared = getattr(current_app.view_functions.get(request.endpoint), _WRITES, False)
    if request.method in READ_METHODS:
        return declared == _ON_GET and request.method != "OPTIONS"
    return bool(declared)


def db_session() -> DbSession:
    """The session of this request's unit of work."""
    return request_unit().session


def _commit_on_success(response: Response) -> Response:
    unit = g.get(_UNIT)
    # A read-only unit has nothing to commit; teardown closes it. (A streamed body is read
    # after teardown: its generator opens a fresh read-only unit through db_session().)
    if unit is not None and unit.writes and unit.started:
        if response.status_code < 400:
            unit.commit()
        else:
            unit.rollback()
    return response


def _close(_error: BaseException | None) -> None:
    unit = g.pop(_UNIT, None)
    if unit is not None:
        unit.close()
