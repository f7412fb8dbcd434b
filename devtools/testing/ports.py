"""Free local ports for the servers tests and benches start, all below Linux's ephemeral range.

A port in the ephemeral range (32768-60999) can be taken at any moment as the local end of
an outgoing connection, by this process or any other: a client reconnecting to a broker
that is down can even connect to itself and hold the broker's port. The server started
next then fails with "Address already in use". Below the range only a listener takes a port.
"""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20000, 32000


def _bindable(host: str, *ports: int) -> bool:
    socks: list[socket.socket] = []
    try:
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, port))
    except OSError:
        return False
    finally:
        for sock in socks:
            sock.close()
    return True


def free_port_pair(host: str = "127.0.0.1", *, prefer: int | None = None) -> int:
    """A port P with P+1 also free (a KRaft broker's controller listens on P+1).

    `prefer` is returned when both it and the next port are free, so a fixed port stays
    the usual one and a busy one does not stop the run.
    """
    if prefer is not None and _bindable(host, prefer, prefer + 1):
        return prefer
    return _pick(host, width=2)


def free_port(host: str = "127.0.0.1") -> int:
    """One free port (PostgreSQL listens on one)."""
    return _pick(host, width=1)


def _pick(host: str, width: int) -> int:
    """The first of `width` adjacent free ports, drawn at random between LOW and HIGH."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(LOW, HIGH - width + 1, width)
        if _bindable(host, *range(port, port + width)):
            return port
    raise RuntimeError(f"no {width} adjacent free port(s) between {LOW} and {HIGH}")
