"""python -m pocket_client: the conformance control protocol, or one sync.

    python -m pocket_client control [--bug NAME]
    python -m pocket_client sync --url http://127.0.0.1:8080 --token T --collection todos --data-dir ./replica
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from . import control
from .client import PocketClient
from .conflicts import Strategy
from .engine import BUGS, SyncConfig


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pocket_client", description="A Pocket Sync client in Python.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("control", help="speak the conformance control protocol on stdin/stdout")
    serve.add_argument(
        "--bug", choices=sorted(BUGS), default="",
        help="break the client on purpose (the conformance suite's own tests only): "
        + "; ".join(f"{name}: {what}" for name, what in BUGS.items()),
    )
    once = commands.add_parser("sync", help="sync collections into a local replica once and print them")
    once.add_argument("--url", default="http://127.0.0.1:8080", help="the server's base URL")
    once.add_argument("--token", default="", help="bearer token")
    once.add_argument("--collection", action="append", required=True, help="a collection to sync (repeatable)")
    once.add_argument("--data-dir", default="pocket-replica", help="where the replica lives")
    once.add_argument("--strategy", choices=[s.value for s in Strategy], default=Strategy.LAST_WRITE_WINS.value)
    return parser.parse_args(argv)


async def sync_once(args: argparse.Namespace) -> None:
    config = SyncConfig(args.url, collections=tuple(args.collection), token=args.token, strategy=Strategy(args.strategy))
    async with await PocketClient.open(config, data_dir=args.data_dir) as client:
        result = await client.sync()
        print(f"pushed {result.pushed}, pulled {result.pulled}, conflicts {result.conflicts}")
        for collection in args.collection:
            for document_id, document in client.all(collection).items():
                print(f"{collection}/{document_id} {document}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "control":
        control.main(args.bug)
    else:
        asyncio.run(sync_once(args))


if __name__ == "__main__":
    main()
