"""``tokentrail db init URL``: create the PostgreSQL sink's table ahead of time."""

from __future__ import annotations

import argparse

from ._errors import CliError, UsageError


def run(args: argparse.Namespace) -> int:
    url = args.url.strip()
    if not url.lower().startswith(("postgresql://", "postgres://")):
        raise UsageError(f"{url!r} is not a PostgreSQL URL; write postgresql://user@host[:port]/database "
                         "(SQLite databases need no init: the sink creates its table)")
    try:
        from ..sinks.postgres import db_init, safe_url
    except ImportError:
        raise CliError("tokentrail db needs psycopg: pip install 'tokentrail[postgres]'") from None
    try:
        print(db_init(url))
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CliError(f"cannot create the events table in {safe_url(url)} ({first}); check the URL, the "
                       "user's rights and that the server is running") from None
    return 0
