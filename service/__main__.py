"""`python -m service`: serve the API and the search page on API_HOST:API_PORT with API_WORKERS processes.

This is the one way the service is served (`make run`, the Docker image): a bare `uvicorn service.main:app`
would believe X-Forwarded-For from 127.0.0.1 whatever TRUSTED_PROXIES says (uvicorn's own default), so a
client on the same host could pick the IP its rate limits are counted by.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from govsearch.settings import Settings, settings_or_exit

APP = "service.main:app"


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for `settings`: forwarded headers are believed from TRUSTED_PROXIES only."""
    return {"host": settings.api_host, "port": settings.api_port, "workers": settings.api_workers,
            "log_level": "info", "proxy_headers": bool(settings.trusted_proxies),
            "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None}


def main() -> None:
    uvicorn.run(APP, **server_options(settings_or_exit()))


if __name__ == "__main__":
    main()
