"""``python -m tokentrail``: the same command line as the ``tokentrail`` console script."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
