"""Ports for the brokers and databases tests start: free, and never in the ephemeral range."""

from __future__ import annotations

import socket

from devtools.testing.ports import HIGH, LOW, free_port, free_port_pair


def _ephemeral_low() -> int:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        return int(f.read().split()[0])


def test_ports_are_below_the_ephemeral_range() -> None:
    assert _ephemeral_low() > HIGH
    for _ in range(20):
        assert LOW <= free_port() < HIGH
        port = free_port_pair()
        assert LOW <= port < HIGH and port + 1 < _ephemeral_low()


def test_a_free_preferred_pair_is_taken() -> None:
    port = free_port_pair()
    assert free_port_pair(prefer=port) == port


def test_a_busy_preferred_pair_is_not_taken() -> None:
    port = free_port_pair()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port + 1))  # only the controller's port is busy
        listener.listen()
        other = free_port_pair(prefer=port)
    assert other != port
