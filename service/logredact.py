"""Keep API keys out of logs: uvicorn's access log prints each request's query string, and
`?api_key=…` is how simple embeds send their key."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from service.apikeys import QUERY_PARAM

# A query-string parameter: its name and its value, as written (percent-encoded or not).
_PARAMETER = re.compile(r"(?P<lead>(?:^|[?&;]))(?P<name>[^=&;#?\s\"]+)=(?P<value>[^&;#\s\"]*)")
REDACTED = "[redacted]"


def _is_key(name: str) -> bool:
    """The name the API decodes (`api_key`, also written `api%5Fkey`, `%61pi_key` …); any case, to be safe."""
    return unquote_plus(name).lower() == QUERY_PARAM


def redact(text: str) -> str:
    if "=" not in text:
        return text
    return _PARAMETER.sub(lambda m: f"{m['lead']}{m['name']}={REDACTED}" if _is_key(m["name"]) else m[0], text)


class RedactApiKeys(logging.Filter):
    """Rewrites api_key values in a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def install(logger_names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error", "service")) -> None:
    """Add the filter once to each logger (idempotent: create_app may run several times)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactApiKeys) for existing in logger.filters):
            logger.addFilter(RedactApiKeys())
