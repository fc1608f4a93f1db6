"""`python -m privlink.targets.local.dataplane --config PATH --runtime PATH`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from privlink.errors import PrivlinkError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="privlink-dataplane", description="privlink's local data plane")
    parser.add_argument("--config", required=True, type=Path, help="the DataPlaneConfig JSON file")
    parser.add_argument("--runtime", required=True, type=Path, help="where to write the runtime state")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    from privlink.targets.local.dataplane.server import serve

    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        return runner(serve(args.config, args.runtime))
    except PrivlinkError as exc:
        print(f"privlink-dataplane: error: {exc.one_line()}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
