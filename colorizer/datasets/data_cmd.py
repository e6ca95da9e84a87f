"""Prepare real, human-drawn line art from the package registries into pairs (``make data``).

One flag per source (``--openmoji``, ``--streamline``, ``--facesjs``, ``--openclipart``), or
``--all``. Each source is fetched from its registry into ``--cache``, rendered from its vectors at
``--size`` and written to ``OUT/SOURCE/`` (``lines/``, ``color/``, ``manifest.json`` with license,
attribution, counts, split by drawing). Resumable (an interrupted run goes on where it stopped)
and idempotent (a source whose manifest records the same recipe is left as it is).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from colorizer.datasets.sources import SOURCES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``colorizer data``."""
    for name in SOURCES:
        parser.add_argument(f"--{name}", action="store_true", help=f"prepare the {name} source")
    parser.add_argument("--all", action="store_true", help="prepare every source")
    parser.add_argument(
        "--out", type=Path, default=Path("data/real"), help="output root (default data/real)"
    )
    parser.add_argument(
        "--cache", type=Path, default=Path("data/cache"), help="fetched packages (default data/cache)"
    )
    parser.add_argument(
        "--size", type=int, default=512, help="square side of the rendered pairs (default 512)"
    )
    parser.add_argument("--split", default="80,10,10", help="train,val,test percentages (default 80,10,10)")
    parser.add_argument(
        "--limit", type=int, help="only the first N candidates of each source (a quick run)"
    )
    parser.add_argument(
        "--only-split",
        choices=("train", "val", "test"),
        help="only the candidates of this split (by drawing, as in the full set), before --limit: "
        "e.g. the held-out drawings at another --size into another --out",
    )
    parser.add_argument(
        "--faces", type=int, default=1000, help="how many facesjs faces to generate (default 1000)"
    )
    parser.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    parser.add_argument(
        "--shard",
        type=Path,
        metavar="FILE.npz",
        help="then write the prepared train pairs at --shard-size into one file (for a GPU machine)",
    )
    parser.add_argument(
        "--shard-size", type=int, default=256, help="square side in the shard (default 256)"
    )
    parser.add_argument("--shard-mib", type=float, default=44.0, help="shard size limit, MiB (default 44)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``colorizer data``."""
    from colorizer.datasets import logger
    from colorizer.datasets.prepare import Options, prepare
    from colorizer.datasets.render import RenderError
    from colorizer.datasets.sources import get_source

    chosen = [n for n in SOURCES if args.all or getattr(args, n)]
    try:
        if not chosen and args.shard is None:
            raise ValueError("name a source (--openmoji, --streamline, --facesjs, --openclipart) or --all")
        shares = tuple(int(v) for v in args.split.split(","))
        if len(shares) != 3:
            raise ValueError(f"--split needs three percentages, got {args.split!r}")
        if args.size < 64 or args.size % 16:
            raise ValueError(f"--size must be a multiple of 16, at least 64, got {args.size}")
        if args.limit is not None and args.limit < 1:
            raise ValueError(f"--limit must be >= 1, got {args.limit}")
        if args.faces < 1:
            raise ValueError(f"--faces must be >= 1, got {args.faces}")
        opts = Options(
            out=args.out,
            cache=args.cache,
            size=args.size,
            shares=shares,  # type: ignore[arg-type]
            limit=args.limit,
            only_split=args.only_split,
            workers=max(1, args.workers),
            progress=not args.no_progress,
        )
        for name in chosen:
            source = get_source(name)
            if name == "facesjs" and hasattr(source, "count"):
                source = type(source)(count=args.faces)  # type: ignore[call-arg]
            m = prepare(source, opts)
            logger.info(
                "%s: kept %d of %d (%d drawings), dropped %s, splits %s, %.0f s",
                name,
                m["count"],
                m["candidates"],
                m["drawings"],
                m["dropped"] or "none",
                m["splits"],
                m["seconds"],
            )
        if args.shard is not None:
            from colorizer.datasets.shard import write_shard

            summary = write_shard(args.out, args.shard, size=args.shard_size, max_mib=args.shard_mib)
            print(f"shard {args.shard}: {summary}")
    except (ValueError, OSError, RuntimeError, RenderError) as exc:  # FetchError, FacesjsError
        print(f"colorizer data: {exc}", file=sys.stderr)
        return 2
    return 0
