"""Request ids and structured logs.

`RequestContext` (pure ASGI, the outermost middleware) gives every HTTP request an id: the client's
`X-Request-ID` when it is sane (1-64 characters of letters, digits, `.`, `_`, `-`), else a new random
one. The id is returned in the `X-Request-ID` response header and held in a context variable for the
whole request, so every log record made while it is handled (the audit line, uvicorn's access line,
errors) carries it as `record.request_id` (`-` outside a request).

`configure_logging("json")` writes one JSON object per line: time, level, logger, message,
request_id, and the exception when there is one.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
NO_REQUEST = "-"
_SANE_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NO_REQUEST)


def current_request_id() -> str:
    return _request_id.get()


def request_id_from(headers: Headers) -> str:
    """The client's id when sane (it ends up in logs: no spaces, quotes or control characters), else a new one."""
    offered = headers.get(REQUEST_ID_HEADER.lower(), "")
    return offered if _SANE_ID.fullmatch(offered) else uuid.uuid4().hex



class ResponseStatus:
    """An ASGI `send` that remembers the response's status for a middleware to report after the call;
    500 when the app failed before it started answering."""

    def __init__(self, send: Send) -> None:
        self.status = 500
        self._send = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


class RequestContext:
    """Pure ASGI: the request id in a context variable for the request's duration, and in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))
        token = _request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.request_id = _request_id.get()
    return record


class JsonFormatter(logging.Formatter):
    """One JSON object per record; never raises on odd arguments (the message is formatted first)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TextFormatter(logging.Formatter):
    """LOG_FORMAT=text: one line per record. Control characters in the message (a request path's decoded
    %0a) are written as \\xNN, so a caller cannot start a forged line of the audit trail; a traceback keeps
    its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", record.message)
        return super().formatMessage(record)


class _OurHandler(logging.StreamHandler):
    """Marks the handler `configure_logging` added, so calling it again replaces nothing twice."""


def configure_logging(log_format: Literal["json", "text"]) -> None:
    """Request ids on every record; the root logger and uvicorn's handlers in `log_format`.

    Idempotent: create_app may run several times in one process (tests)."""
    if logging.getLogRecordFactory() is not _record_with_request_id:
        logging.setLogRecordFactory(_record_with_request_id)
    formatter = JsonFormatter() if log_format == "json" else TextFormatter(TEXT_FORMAT)
    root = logging.getLogger()
    ours = next((h for h in root.handlers if isinstance(h, _OurHandler)), None)
    if ours is None:
        ours = _OurHandler()
        root.addHandler(ours)
    ours.setFormatter(formatter)
    service = logging.getLogger("service")
    if service.level == logging.NOTSET:
        service.setLevel(logging.INFO)  # the audit trail and warnings are INFO and up
    # uvicorn's own lines too: in json so that a log shipper parses every line alike, in text so that a
    # request path's decoded %0a cannot start a line of its own there either.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
