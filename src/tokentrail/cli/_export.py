"""``tokentrail export models|prompts OUT --database sqlite:///DB``: the prompt logger's exports.

The export functions (:mod:`tokentrail.export`) do the work; this module checks the
database first, so a typo never creates an empty database or an empty OUT file.
OUT is written through a temporary file (a failed export leaves it as it was), is never
the database itself, and an existing non-empty OUT is replaced only with ``--force``, as
``pricing init`` does: ``export prompts tokentrail.jsonl`` must not silently swap the
application's event log for an export.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._common import require
from ._errors import CliError, UsageError


def database_path(url: str) -> str:
    """The file behind ``--database``; only ``sqlite:///`` URLs are accepted (exit 2 otherwise)."""
    from .._sinks import SinkError, sqlite_path
    if not url.lower().startswith("sqlite:///"):
        raise UsageError(f"--database: {url!r} is not a SQLite or PostgreSQL URL; write sqlite:///relative.db, "
                         "sqlite:////absolute.db or postgresql://user@host/db")
    try:
        return sqlite_path(url)
    except SinkError as e:
        raise UsageError(f"--database: {e}") from None


def _check_database(url: str) -> None:
    if url.strip().lower().startswith(("postgresql://", "postgres://")):
        return   # the export function connects and checks the events table before writing anything
    path = database_path(url)
    if not os.path.exists(path):
        raise CliError(f"database {path!r} (from --database {url}) does not exist; check the path "
                       "(sqlite:///relative.db or sqlite:////absolute.db)")
    if os.path.isdir(path):
        raise CliError(f"database {path!r} (from --database {url}) is a directory, not a SQLite file")
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise CliError(f"database {path!r} cannot be read ({e.strerror or e}); check its permissions") from None
    if not head:
        raise CliError(f"database {path!r} is empty; give a database written by tokentrail's SQLite sink")
    if head != b"SQLite format 3\x00":
        raise CliError(f"{path!r} is not a SQLite database; give a database written by tokentrail's SQLite sink")


def run(args: argparse.Namespace) -> int:
    if args.type and args.what != "prompts":
        raise UsageError("--type applies to `export prompts` only")
    if args.out != "-" and os.path.isdir(args.out):
        raise CliError(f"OUT {args.out!r} is a directory; give a file name such as "
                       f"{os.path.join(args.out, args.what + '.jsonl')}")
    _check_database(args.database)
    export = require("tokentrail.export", "the export commands")
    if args.out != "-":
        db = None if args.database.strip().lower().startswith(("postgresql://", "postgres://")) \
            else database_path(args.database)
        export.check_out(args.out, db)   # OUT is the database itself: refused even with --force
        if not args.force and os.path.isfile(args.out) and os.path.getsize(args.out) > 0:
            raise CliError(f"OUT {args.out!r} exists; pass --force to replace it, or give another file name")
    kwargs = {"database": args.database, "namespace": args.namespace, "models": args.models}
    if args.what == "models":
        n = export.export_models(args.out, **kwargs)
    else:
        n = export.export_prompts(args.out, type=args.type, **kwargs)
    what = args.what[:-1] if n == 1 else args.what
    # With OUT "-" the lines go to stdout, so the summary goes to stderr.
    (sys.stderr if args.out == "-" else sys.stdout).write(
        f"Exported {n} {what} to {'standard output' if args.out == '-' else args.out}\n")
    return 0
