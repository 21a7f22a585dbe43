"""Fast random ids in uuid4 form.

``uuid.uuid4()`` reads ``os.urandom`` (a system call, several µs in some sandboxes) on
every event; ids only need to be unique, not secret, so they come from ``random``'s
generator, which Python reseeds in a forked child.
"""

from __future__ import annotations

from random import getrandbits

_VERSION_BITS = 0x4 << 76
_VARIANT_BITS = 0x8 << 60
_CLEAR = ~((0xF << 76) | (0x3 << 62))


def new_id() -> str:
    """A random RFC 4122 version-4 UUID string."""
    n = (getrandbits(128) & _CLEAR) | _VERSION_BITS | _VARIANT_BITS
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
