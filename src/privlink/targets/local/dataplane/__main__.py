"""`python -m privlink.targets.local.dataplane --config PATH --runtime PATH [--claim-fd N]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from privlink.errors import PrivlinkError

MAX_OPEN_FILES = 1 << 20


def raise_open_file_limit() -> int:
    """Lift the soft open-file limit to the hard one: each flow holds three sockets here (client side,
    target side, and the demo app's side), so a common soft default of 1024 caps the sandbox at ~300
    concurrent connections. Returns the soft limit now in force."""
    try:
        import resource
    except ImportError:  # not on this platform
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):  # e.g. macOS caps it below the hard limit: keep what we have
            return soft
        return wanted
    return soft


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="privlink-dataplane", description="privlink's local data plane")
    parser.add_argument("--config", required=True, type=Path, help="the DataPlaneConfig JSON file")
    parser.add_argument("--runtime", required=True, type=Path, help="where to write the runtime state")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--claim-fd", type=int, default=None, help="an inherited socket claiming the loopback block"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    from privlink.targets.local.dataplane.supervisor import serve

    logging.getLogger("privlink.dataplane").info("open-file limit %s", raise_open_file_limit())

    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        return runner(serve(args.config, args.runtime, args.claim_fd))
    except PrivlinkError as exc:
        print(f"privlink-dataplane: error: {exc.one_line()}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
