"""Keep API keys out of logs: uvicorn's access log prints each request's query string, and
`?api_key=…` is how simple embeds send their key."""

from __future__ import annotations

import logging
import re

_API_KEY = re.compile(r"(?i)((?:^|[?&;])api_key=)[^&;#\s\"]*")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _API_KEY.sub(r"\g<1>" + REDACTED, text)


class RedactApiKeys(logging.Filter):
    """Rewrites api_key values in a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "api_key=" in record.msg.lower():
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) and "api_key=" in arg.lower() else arg
                                for arg in record.args)
        return True


def install(logger_names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error", "service")) -> None:
    """Add the filter once to each logger (idempotent: create_app may run several times)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactApiKeys) for existing in logger.filters):
            logger.addFilter(RedactApiKeys())
