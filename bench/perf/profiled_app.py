"""`service.main:app` with cProfile switched on only while a `/search` request is being handled.

Used by `python -m bench.perf --profile` as `uvicorn bench.perf.profiled_app:app`, at concurrency 1
(so what runs on the event loop while the profiler is on is that one request's work). The stats
are written at exit to the file named by PERF_PROFILE_OUT. The embedding thread is not profiled:
the profile is run with a warm query cache, where no embedding happens.
"""

from __future__ import annotations

import atexit
import cProfile
import os

from starlette.types import ASGIApp, Receive, Scope, Send

from service.main import app as service_app

_profile = cProfile.Profile()


class ProfiledApp:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == "/search":
            _profile.enable()
            try:
                await self.app(scope, receive, send)
            finally:
                _profile.disable()
        else:
            await self.app(scope, receive, send)


def _dump() -> None:
    path = os.environ.get("PERF_PROFILE_OUT")
    if path:
        _profile.dump_stats(path)


atexit.register(_dump)
app = ProfiledApp(service_app)
