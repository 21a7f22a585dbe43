"""``--html FILE`` for ``tokentrail report`` / ``analyze`` / ``demo``: the checks and the write.

The command checks first (:func:`check_output`, before any input is read): matplotlib
is importable, and FILE can be written (not a directory, its folder exists and is
writable). Without matplotlib that is exit 1 with one sentence saying to install
``tokentrail[html]``. After the report is built, :func:`write_page` writes the page
(atomically) and returns its absolute path. The exit codes are those of the command
without ``--html``; the text report is still printed.
"""

from __future__ import annotations

import os

from ..cli._errors import CliError

def check_output(path: str, flag: str = "--html") -> None:
    from . import HtmlUnavailable, check_available
    try:
        check_available()
    except HtmlUnavailable as e:
        raise CliError(f"{flag}: {e}") from None
    if not str(path).strip():
        raise CliError(f"{flag}: give a file name such as report.html")
    target = os.path.abspath(path)
    if os.path.isdir(target):
        raise CliError(f"{flag}: {path!r} is a directory; give a file name such as "
                       f"{os.path.join(path, 'report.html')}")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise CliError(f"{flag}: cannot write {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CliError(f"{flag}: cannot write {path!r}: no permission to write in {folder!r}")
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise CliError(f"{flag}: cannot write {path!r}: permission denied")


def write_page(report: dict, path: str, flag: str = "--html") -> str:
    from . import write_html
    try:
        return write_html(report, path)
    except OSError as e:
        raise CliError(f"{flag}: cannot write {path!r}: {e.strerror or e}") from None


__all__ = ["check_output", "write_page"]
