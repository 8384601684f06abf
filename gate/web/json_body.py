"""Reading a request's JSON body, one way for every JSON endpoint (scanner API, gate view).

Not ``request.get_json``: it lets ``RecursionError`` (absurdly nested input) become a 500.
A body that is not JSON is :class:`BadJsonBody`, which each blueprint answers in its own
error shape (code ``bad_json``, status 400).
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

NOT_JSON = "the body must be JSON (Content-Type: application/json)"
NOT_AN_OBJECT = "the body must be a JSON object"


class BadJsonBody(ValueError):
    """The request's body is not the JSON expected; the message says what was wrong."""

    code = "bad_json"
    status = 400


def json_body() -> object:
    """The request's JSON body (any JSON value but ``null``); raises :class:`BadJsonBody`."""
    if not request.is_json:
        raise BadJsonBody(NOT_JSON)
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        body = None
    if body is None:
        raise BadJsonBody(NOT_JSON)
    return body


def json_object() -> dict[str, Any]:
    """The request's JSON body, which must be an object; raises :class:`BadJsonBody`."""
    body = json_body()
    if not isinstance(body, dict):
        raise BadJsonBody(NOT_AN_OBJECT)
    return body
