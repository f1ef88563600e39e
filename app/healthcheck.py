"""Container health probe: exit 0 when /health returns 200, else 1.

The image has no curl, so Docker's HEALTHCHECK runs this with the service's own Python.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

HEALTH_URL = "http://127.0.0.1:8080/health"
TIMEOUT_SECONDS = 2


def main() -> int:
    try:
        with urllib.request.urlopen(HEALTH_URL, timeout=TIMEOUT_SECONDS) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"health probe failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
