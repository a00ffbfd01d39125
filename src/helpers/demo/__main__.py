"""Command line: ``python -m helpers.demo --out DIR [--accounts N] [--seed S] [--chunk-accounts C]``.

A company of more than ``--chunk-accounts`` accounts (default ``CHUNK_ACCOUNTS``) is written in
chunks (``helpers.demo.chunks``); ``--accounts 1000000`` runs in a few GB.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from helpers import demo
from helpers.config import DEMO_DIR
from helpers.demo.parameters import ALL_TABLES, CHUNK_ACCOUNTS, DEFAULT_ACCOUNTS, DEFAULT_SEED
from helpers.demo.writing import write


def main(argv: list[str] | None = None) -> None:
    """Write the demo data set to ``--out`` and mark the folder complete (``.complete``)."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.demo", description=demo.__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="output directory")
    parser.add_argument(
        "--accounts", type=int, default=DEFAULT_ACCOUNTS, help="approximate number of accounts"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--tables", default=",".join(ALL_TABLES), help="comma-separated tables to write"
    )
    parser.add_argument(
        "--chunk-accounts",
        type=int,
        default=CHUNK_ACCOUNTS,
        help="accounts per chunk: a larger company is simulated and written chunk by chunk",
    )
    args = parser.parse_args(argv)
    truth = write(args.out, args.accounts, args.seed, args.tables.split(","), args.chunk_accounts)
    (args.out / ".complete").touch()
    print(f"wrote {truth['n_accounts']} accounts to {args.out}")


if __name__ == "__main__":
    main()
