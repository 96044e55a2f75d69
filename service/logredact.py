"""Keep API keys and search text out of logs: uvicorn's access log prints each request's query string with the
client's address. `?api_key=…` is how simple embeds send their key, and `q` is what a resident searched for,
which the search log keeps without any address (`service.analytics`): beside an address it would say who
searched what."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from service.apikeys import QUERY_PARAM

# A query-string parameter: its name and its value, as written (percent-encoded or not).
_PARAMETER = re.compile(r"(?P<lead>(?:^|[?&;]))(?P<name>[^=&;#?\s\"]+)=(?P<value>[^&;#\s\"]*)")
REDACTED = "[redacted]"


REDACTED_PARAMETERS = frozenset({QUERY_PARAM, "q"})


def _is_redacted(name: str) -> bool:
    """A name the API decodes to one of REDACTED_PARAMETERS (`api_key` is also written `api%5Fkey`,
    `%61pi_key` …); any case, to be safe."""
    return unquote_plus(name).lower() in REDACTED_PARAMETERS


def redact(text: str) -> str:
    if "=" not in text:
        return text
    return _PARAMETER.sub(lambda m: f"{m['lead']}{m['name']}={REDACTED}" if _is_redacted(m["name"]) else m[0], text)


class RedactParameters(logging.Filter):
    """Rewrites the values of REDACTED_PARAMETERS in a record's message and arguments; never drops a record."""

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
        if not any(isinstance(existing, RedactParameters) for existing in logger.filters):
            logger.addFilter(RedactParameters())
