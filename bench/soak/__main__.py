"""`python -m bench.soak [--quick] [--duration S] [--rate Q] [--output PATH]`: see bench/soak/__init__.py."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from bench.soak.report import checks, render
from bench.soak.run import Soak, SoakConfig
from govsearch.paths import PROJECT_ROOT
from govsearch.settings import get_settings

MIN_FULL_SECONDS = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="60 s, to try it (the report says so)")
    parser.add_argument("--duration", type=float, default=330.0, help="seconds of load (default 330, at least 300 "
                        "unless --quick)")
    parser.add_argument("--rate", type=float, default=4.0, help="queries per second (default 4)")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds Elasticsearch stays down (default 10)")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results" / "soak.md")
    args = parser.parse_args(argv)
    duration = 60.0 if args.quick else args.duration
    if not args.quick and duration < MIN_FULL_SECONDS:
        parser.error(f"--duration must be at least {MIN_FULL_SECONDS:.0f} s (or use --quick)")
    settings = get_settings()
    if settings.es_url:
        parser.error("ES_URL is set: the soak stops and starts Elasticsearch, so it runs only on its own dev node "
                     "(ES_PORT)")
    config = SoakConfig(duration=duration, rate=args.rate, es_port=settings.es_port, outage_seconds=args.outage,
                        reindex_at=5.0 if args.quick else 10.0)
    result = Soak(config).run()
    command = "python -m bench.soak " + shlex.join(argv if argv is not None else sys.argv[1:])
    report = render(result, command.strip())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0 if all(met for _, met, _ in checks(result)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
