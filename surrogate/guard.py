"""Hosting hardening for ``calnas serve``: request deadlines, a bounded queue, the listening socket.

The FastAPI app (:mod:`surrogate.server`) answers a request; this module keeps a hostile or
careless client from holding the server: :class:`RequestGuard` (ASGI) reads each body under a
deadline (408) and a size cap (413) and bounds the requests being answered (503); the uvicorn
protocol from :func:`deadline_protocol` closes connections whose headers do not arrive in time
and aborts those that stop reading their response; :func:`listen` binds before uvicorn starts,
so a bad address is one error line. Nothing here imports FastAPI.

Example:
    >>> check_listen("127.0.0.1", 8000)
    ('127.0.0.1', 8000)
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
from typing import Any

from bench.errors import InputError

__all__ = ["RequestGuard", "check_listen", "check_seconds", "deadline_protocol", "listen"]


def _reply(status: int, detail: str, *, close: bool = False, retry_after: int | None = None):
    """A complete JSON response as the two ASGI messages that send it."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


class RequestGuard:
    """ASGI middleware: a deadline on receiving each request body, and an optional bound on the
    requests in progress.

    The body is read here, before the app runs: if it has not fully arrived ``timeout`` seconds
    after the headers, the client gets 408 and the connection is closed (a body shorter than
    its ``Content-Length`` would otherwise hold the connection, and a server task, forever).
    Bodies over ``max_body_bytes`` get 413 without being read further. With ``max_pending``, a
    request whose body has arrived and that finds ``max_pending`` others being answered gets 503
    with ``Retry-After: 1`` (a client still sending its body takes no place: stalled bodies
    cannot lock the others out; the deadline and the connection limit bound them): under
    overload the accepted requests keep a bounded wait, and the rest are told to come back
    (``GET /health`` is always answered).

    Args:
        app: the ASGI app to guard.
        timeout: seconds to receive a body (after the headers).
        max_body_bytes: the largest body read.
        max_pending: requests in progress at once (None: unbounded).

    Example:
        >>> guard = RequestGuard(None, timeout=5.0, max_body_bytes=1024, max_pending=64)
        >>> guard.timeout, guard.max_pending
        (5.0, 64)
    """

    def __init__(
        self,
        app: Any,
        *,
        timeout: float,
        max_body_bytes: int,
        max_pending: int | None = None,
    ) -> None:
        self.app = app
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.max_pending = max_pending
        self.pending = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # the body first: a client still sending (or stalling) holds a connection, bounded by
        # the deadline and max_connections, but no place among the requests in progress
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        busy = self.max_pending is not None and self.pending >= self.max_pending
        # /health stays answerable: a liveness probe that got 503 under load would restart a
        # server that is only busy
        if busy and scope.get("path") != "/health":
            for message in _reply(503, "the server is busy: retry shortly", retry_after=1):
                await send(message)
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        self.pending += 1
        try:
            await self.app(scope, replay, send)
        finally:
            self.pending -= 1

    async def _read_body(self, scope: dict, receive: Any, send: Any) -> bytes | None:
        """The whole body, or None once a 408 or 413 has been sent (or the client left)."""
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            for message in _reply(413, f"the body exceeds {self.max_body_bytes} bytes", close=True):
                await send(message)
            return None
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except TimeoutError:
                detail = f"the request body did not arrive within {self.timeout:g} s"
                for reply in _reply(408, detail, close=True):
                    await send(reply)
                return None
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                for reply in _reply(
                    413, f"the body exceeds {self.max_body_bytes} bytes", close=True
                ):
                    await send(reply)
                return None
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def check_seconds(seconds: object, name: str = "request_timeout") -> float:
    """``seconds`` as a float, if it is a finite positive number (bools refused).

    Example:
        >>> check_seconds(0, "request_timeout")
        Traceback (most recent call last):
        ...
        bench.errors.InputError: request_timeout must be a positive number of seconds, got 0
    """
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    if not ok or not math.isfinite(seconds) or seconds <= 0:  # type: ignore[arg-type]
        raise InputError(f"{name} must be a positive number of seconds, got {seconds!r}")
    return float(seconds)  # type: ignore[arg-type]


def check_listen(host: object, port: object) -> tuple[str, int]:
    """Refuse a listening address that would not mean what it says.

    Args:
        host: a host name or address; the empty string (which listens on every interface) is
            refused: give ``0.0.0.0`` or ``::`` to mean that.
        port: a TCP port, 1 to 65535 (0, an ephemeral port the user is not told, is refused).

    Returns:
        ``(host, port)``.

    Raises:
        InputError: an empty host, or a port out of range.

    Example:
        >>> check_listen("127.0.0.1", 8000)
        ('127.0.0.1', 8000)
        >>> check_listen("127.0.0.1", 99999)
        Traceback (most recent call last):
        ...
        bench.errors.InputError: port must be an integer from 1 to 65535, got 99999
    """
    if not isinstance(host, str) or not host.strip():
        raise InputError(
            f"host must name an interface (e.g. 127.0.0.1, or 0.0.0.0 for all), got {host!r}"
        )
    ok = isinstance(port, int) and not isinstance(port, bool)
    if not ok or not 1 <= port <= 65535:  # type: ignore[operator]
        raise InputError(f"port must be an integer from 1 to 65535, got {port!r}")
    return host, port  # type: ignore[return-value]


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or one error line that names the address.

    Binding here, before uvicorn starts, turns a bad host or a port in use into one
    :class:`InputError` instead of uvicorn's log lines and exit.

    Raises:
        InputError: as :func:`check_listen`, or the address cannot be resolved or bound.

    Example:
        >>> sock = listen("127.0.0.1", 8000)  # doctest: +SKIP
    """
    check_listen(host, port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as err:
        raise InputError(f"cannot listen on {host}:{port}: unknown host ({err})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as err:
        sock.close()
        reason = err.strerror or str(err)
        raise InputError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def deadline_protocol(request_timeout: float, write_timeout: float | None = None) -> type:
    """uvicorn's h11 protocol with a deadline on receiving request headers, and on a stalled
    write.

    uvicorn times out an idle keep-alive connection only after a response; a connection that
    sends nothing, or part of its headers, is held forever. This one is closed (with 408 if it
    sent anything) when its next request's headers are not complete within ``request_timeout``
    seconds of the connection or of its last response. (The body's deadline is
    :class:`RequestGuard`'s.) A client that stops reading its response holds the connection and
    the unsent response in memory forever (closing the transport waits for the buffer to drain):
    when writing stays paused for ``write_timeout`` seconds, the connection is aborted.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadlineProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _write_timer: asyncio.TimerHandle | None = None
        _received = False

        def pause_writing(self) -> None:
            super().pause_writing()
            if write_timeout is not None and self._write_timer is None:
                self._write_timer = self.loop.call_later(write_timeout, self.transport.abort)

        def resume_writing(self) -> None:
            if self._write_timer is not None:
                self._write_timer.cancel()
                self._write_timer = None
            super().resume_writing()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            self._received = True
            super().data_received(data)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._received = False
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._write_timer is not None:
                self._write_timer.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(request_timeout, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            # still waiting for a request's headers (h11 leaves IDLE only once they are whole)
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self._received:
                body = b'{"detail":"the request headers did not arrive in time"}'
                self.transport.write(
                    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
                )
            self.transport.close()

    return HeaderDeadlineProtocol
