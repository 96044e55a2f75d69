"""`python -m service`: serve the API and the search page on API_HOST:API_PORT."""

import uvicorn

from govsearch.settings import get_settings

settings = get_settings()
uvicorn.run("service.main:app", host=settings.api_host, port=settings.api_port, log_level="info")
