"""Exit 0 when the gate server answers and can reach its database (Docker HEALTHCHECK, monitors).

    python deploy/healthcheck.py [BASE_URL]      # default http://127.0.0.1:8000

There is no health endpoint yet, so this asks the scanner API for a bundle with a token that
cannot exist: the server must look it up in the database to answer 401. Anything else (no
answer, 5xx when the database is down) is unhealthy. Standard library only.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

HEALTHY = 401


def main() -> int:
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    request = urllib.request.Request(  # noqa: S310 (a URL given by the operator)
        f"{base.rstrip('/')}/api/v1/bundle", headers={"Authorization": "Bearer healthcheck"}
    )
    try:
        with urllib.request.urlopen(request, timeout=4):  # noqa: S310
            status = 200
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if status != HEALTHY:
        print(f"unhealthy: /api/v1/bundle answered {status}, expected {HEALTHY}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
