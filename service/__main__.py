"""`python -m service`: serve the API and the search page on API_HOST:API_PORT."""

import uvicorn

from govsearch.settings import get_settings

settings = get_settings()
# Forwarded headers are believed from TRUSTED_PROXIES only (uvicorn's own default trusts 127.0.0.1).
uvicorn.run("service.main:app", host=settings.api_host, port=settings.api_port, log_level="info",
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=",".join(settings.trusted_proxies) or None)
