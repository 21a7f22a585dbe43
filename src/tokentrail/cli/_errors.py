"""Exit codes and the two exceptions a command raises for a user's mistake."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INPUT = 1   # input data, files or environment are wrong; or --fail-on waste found waste
EXIT_USAGE = 2   # the command line itself is wrong

EXIT_CODES_HELP = """\
Exit codes:
  0  done (findings never change it, unless `report --fail-on waste`)
  1  bad input: a file is missing, empty, unreadable or not an event log; a price
     file is broken; an output cannot be written; or waste found with --fail-on waste
  2  bad command line: unknown command or flag, invalid value, unknown sink scheme"""


class CliError(Exception):
    """A user's mistake: printed as one ``tokentrail: error: ...`` line, then exit ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_INPUT):
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CliError):
    """The command line is wrong (exit 2)."""

    def __init__(self, message: str):
        super().__init__(message, EXIT_USAGE)


def one_line(text: str) -> str:
    """Messages are one line: runs of whitespace (newlines included) become one space."""
    return " ".join(str(text).split())
