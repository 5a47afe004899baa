"""RTP port allocation from the configured range: one bound UDP socket per call."""

from __future__ import annotations

import socket


class NoFreePort(RuntimeError):
    pass


class RtpPortPool:
    """Hands out bound sockets on even ports in [low, high] (odd ports are RTCP's by convention).

    Binding is the test of "free": a port held by another process is skipped, so parallel test
    runs and restarts never collide. A rotating cursor avoids reusing a just-released port."""

    def __init__(self, host: str, low: int, high: int) -> None:
        self.host = host
        self._ports = list(range(low + (low % 2), high + 1, 2))
        if not self._ports:
            raise ValueError(f"no even port in {low}-{high}")
        self._cursor = 0

    def bind(self) -> socket.socket:
        for _ in range(len(self._ports)):
            port = self._ports[self._cursor]
            self._cursor = (self._cursor + 1) % len(self._ports)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.host, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            return sock
        raise NoFreePort(f"no free RTP port in {self._ports[0]}-{self._ports[-1]}")
