"""A SOCKS5 proxy on 127.0.0.1 that plays Tor's part for a test: every address it is asked
for, onion names included, leads to one local server, and it records the names it was given.

A client that resolved an onion name itself would fail before reaching it (such names resolve
nowhere); one that hands the name to the proxy, as Tor needs, is recorded here with it.
Connect requests only, no authentication: what ``httpx``'s SOCKS support sends.
"""

import contextlib
import selectors
import socket
import socketserver
import struct
import threading

# How long a relayed connection may stay silent before the proxy drops it.
IDLE_SECONDS = 30.0


class SocksProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.asked: list[tuple[str, int]] = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"socks5h://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "SocksProxy":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(IDLE_SECONDS)
        version, methods = _read(client, 2)
        _read(client, methods)
        if version != 5:
            return
        client.sendall(b"\x05\x00")  # no authentication
        _version, command, _reserved, kind = _read(client, 4)
        if kind == 3:
            host = _read(client, _read(client, 1)[0]).decode("ascii")
        elif kind == 1:
            host = socket.inet_ntoa(_read(client, 4))
        else:
            host = socket.inet_ntop(socket.AF_INET6, _read(client, 16))
        (port,) = struct.unpack("!H", _read(client, 2))
        self.asked.append((host, port))
        if command != 1:
            client.sendall(b"\x05\x07\x00\x01" + bytes(6))  # command not supported
            return
        with socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
            client.sendall(b"\x05\x00\x00\x01" + bytes(6))
            _relay(client, upstream)


def _read(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client left mid-handshake")
        data += chunk
    return data


def _relay(a: socket.socket, b: socket.socket) -> None:
    with selectors.DefaultSelector() as selector:
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        while True:
            ready = selector.select(timeout=IDLE_SECONDS)
            if not ready:
                return
            for key, _ in ready:
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                with contextlib.suppress(OSError):
                    data = source.recv(65536)
                    if data:
                        key.data.sendall(data)
                        continue
                return
