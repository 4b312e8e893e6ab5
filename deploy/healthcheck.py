"""The `web` container's healthcheck: liveness (/healthz) of this container's gunicorn.

It sends a Host that ALLOWED_HOSTS accepts (the first plain name in it), so it works whatever
names the operator sets; exit status 0 when gunicorn answers 200. Standard library only.
"""

import os
import sys
import urllib.request

url = os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz")
names = [name.strip() for name in os.environ.get("ALLOWED_HOSTS", "").split(",")]
host = next((name for name in names if name and "*" not in name and not name.startswith(".")), "localhost")
try:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Host": host}), timeout=5) as response:  # noqa: S310
        sys.exit(0 if response.status == 200 else 1)
except OSError as error:
    sys.stderr.write(f"healthcheck {url} (Host: {host}): {error}\n")
    sys.exit(1)
