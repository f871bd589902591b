"""The prediction API under malformed, slow and hostile requests (issue #14, the server part).

In process (FastAPI's TestClient): fixed bad bodies and hypothesis-generated ones are a 4xx whose
body is strict JSON, never a 5xx. Against a real uvicorn on 127.0.0.1 (the server ``calnas serve``
runs, in a thread) with raw sockets: a stalled body or stalled headers get 408 and are closed
within the request timeout, a 422 keeps the keep-alive connection usable. ``calnas serve`` with bad
options: exit 2, one line, nothing written.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from fastapi.testclient import TestClient

from bench.arch.spaces import get_space
from search.cli import main
from surrogate.model import Surrogate
from surrogate.server import RequestGuard, create_app, make_server

SSS = get_space("sss")
TARGETS = ["acc", "pre_ECE_15"]
HEAD = '{"space": "sss", "dataset": "cifar10", "archs": [0]'
#: malformed requests sent by this file (fixed cases; hypothesis adds its examples)
SENT: list[str] = []


@pytest.fixture(scope="module")
def model() -> Surrogate:
    idx = list(range(0, SSS.size, SSS.size // 24))
    y = [[0.5 + 0.4 * i / SSS.size, 0.1 - 0.05 * i / SSS.size] for i in idx]
    m = Surrogate("sss", TARGETS, dataset="cifar10", n_members=2, n_estimators=5)
    return m.fit(idx, y)


@pytest.fixture(scope="module")
def client(model) -> TestClient:
    app = create_app([model], max_archs=64, max_body_bytes=20_000)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def post_raw(client: TestClient, body: bytes):
    return client.post("/predict", content=body, headers={"content-type": "application/json"})


def strict_json(text: str):
    """Parse ``text`` as RFC 8259 JSON: NaN and Infinity are refused."""

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name} in a reply")

    return json.loads(text, parse_constant=refuse)


# -- defect 1: NaN, Infinity, overflow, surrogates, strings for numbers, empty targets ----------
@pytest.mark.parametrize(
    ("extra", "loc"),
    [
        (', "alpha": NaN', ["body", "alpha"]),
        (', "alpha": Infinity', ["body", "alpha"]),
        (', "alpha": -Infinity', ["body", "alpha"]),
        (', "alpha": 1e400', ["body", "alpha"]),
        (', "alpha": -1e400', ["body", "alpha"]),
        (', "alpha": "0.1"', ["body", "alpha"]),
        (', "alpha": true', ["body", "alpha"]),
        (', "alpha": null', ["body", "alpha"]),
        (', "targets": []', ["body", "targets"]),
        (', "targets": ["acc", "acc"]', ["body", "targets", 1]),
        (', "targets": ["\\ud800"]', ["body", "targets", 0]),
        (', "targets": "acc"', ["body", "targets"]),
        (', "\\udfff": 1', ["body"]),
    ],
)
def test_bad_numbers_and_strings_are_422(client, extra, loc) -> None:
    body = HEAD + extra + "}"
    SENT.append(body)
    r = post_raw(client, body.encode())
    assert r.status_code == 422, r.text
    detail = strict_json(r.text)["detail"]
    assert loc in [d["loc"][: len(loc)] for d in detail], detail


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ('{"space": "sss", "dataset": "\\ud800", "archs": [0]}', ["body", "dataset"]),
        ('{"space": "\\ud800", "dataset": "cifar10", "archs": [0]}', ["body", "space"]),
        ('{"space": "sss", "dataset": "cifar10", "archs": ["\\ud800"]}', ["body", "archs", 0]),
        (
            '{"space": "sss", "dataset": "cifar10", "archs": [0, "8:8\\udbff"]}',
            ["body", "archs", 1],
        ),
        ('{"space": "sss", "dataset": "cifar10", "archs": [1e400]}', ["body", "archs", 0]),
        ('{"space": "sss", "dataset": "cifar10", "archs": [NaN]}', ["body", "archs", 0]),
        ('{"space": "sss", "dataset": "cifar10", "archs": [1.0]}', ["body", "archs", 0]),
        ('{"space": "sss", "dataset": "cifar10", "archs": [true]}', ["body", "archs", 0]),
        ('{"space": "sss", "dataset": "cifar10", "archs": [' + "9" * 4000 + "]}", ["body"]),
        ('{"space": "sss", "dataset": "cifar10", "archs": ["' + "x" * 5000 + '"]}', ["body"]),
        (
            '{"space": "sss", "dataset": "cifar10", "archs": ' + "[" * 200 + "]" * 200 + "}",
            ["body"],
        ),
        ('{"space": "sss", "dataset": "cifar10", "archs": [0], "alpha": 1e-400}', ["body"]),
        ("[" * 5000 + "]" * 5000, ["body"]),
    ],
)
def test_bad_values_anywhere_are_422_with_a_json_safe_echo(client, body, loc) -> None:
    SENT.append(body)
    r = post_raw(client, body.encode())
    assert 400 <= r.status_code < 500, r.text
    assert len(r.content) < 5_000, "the error echoes the whole input"
    if r.status_code == 422:
        detail = strict_json(r.text)["detail"]
        assert loc in [d["loc"][: len(loc)] for d in detail], detail


def test_a_good_request_still_answers(client) -> None:
    r = post_raw(client, (HEAD + ', "alpha": 0.2, "targets": ["pre_ECE_15"]}').encode())
    assert r.status_code == 200, r.text
    out = strict_json(r.text)
    assert out["targets"] == ["pre_ECE_15"] and out["predictions"][0]["index"] == 0


# -- hypothesis: whatever the body, never a 5xx ---------------------------------------------------
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["\ud800", "\udfff", "sss", "tss", "cifar10", "acc", "8:8:8:8:8", ""])
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "space": st.sampled_from(["sss", "tss"]) | _json,
        "dataset": st.sampled_from(["cifar10", None]) | _json,
        "archs": st.lists(
            st.integers(-5, SSS.size + 5) | st.sampled_from(SSS.archs()[:50]) | _json, max_size=80
        )
        | _json,
        "alpha": st.floats(-1, 2) | _json,
        "targets": st.lists(st.sampled_from([*TARGETS, "x"]) | _json, max_size=3) | _json,
        "junk": _json,
    },
)
#: bodies that are mostly right, so the 200 path is searched too
_near_valid = st.fixed_dictionaries(
    {
        "space": st.just("sss"),
        "dataset": st.just("cifar10"),
        "archs": st.lists(
            st.integers(-2, SSS.size + 2) | st.sampled_from(SSS.archs()[:50]),
            min_size=0,
            max_size=70,
        ),
    },
    optional={
        "alpha": st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2, 2),
        "targets": st.lists(st.sampled_from([*TARGETS, "x", "\ud800"]), max_size=3),
    },
)
#: raw tokens JSON allows or Python's parser accepts: overflow, NaN, huge arrays, deep nesting
_raw = st.sampled_from(
    ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", '"\\ud800"', "[" * 50 + "]" * 50]
    + ["[" + ",".join(["0"] * 3000) + "]", "9" * 300, '"' + "a" * 3000 + '"']
)


def _check(client: TestClient, body: bytes) -> None:
    r = post_raw(client, body)
    assert r.status_code < 500, (body[:300], r.status_code, r.text[:300])
    reply = strict_json(r.text)
    if r.status_code == 200:
        assert len(reply["predictions"]) == len(json.loads(body)["archs"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_near_valid | _fields | _json)
def test_any_json_body_is_never_a_5xx(client, body) -> None:
    _check(client, json.dumps(body).encode("utf-8", "surrogatepass"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(["space", "dataset", "archs", "alpha", "targets", "x"]),
    token=_raw,
    wrap=st.booleans(),
)
def test_raw_tokens_in_any_field_are_never_a_5xx(client, field, token, wrap) -> None:
    value = f"[{token}]" if wrap else token
    base = {"space": "sss", "dataset": "cifar10", "archs": [0]}
    base.pop(field, None)
    _check(client, (json.dumps(base)[:-1] + f', "{field}": {value}}}').encode())


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_any_bytes_are_never_a_5xx(client, body) -> None:
    r = post_raw(client, body)
    assert 400 <= r.status_code < 500, (body, r.status_code, r.text)


def test_too_big_is_413(client) -> None:
    body = (HEAD[:-1] + "[" + ",".join(["1"] * 15_000) + "]}").encode()
    assert post_raw(client, body).status_code == 413


# -- the bounded queue ---------------------------------------------------------------------------
def test_max_pending_answers_503_at_once() -> None:
    release = asyncio.Event()

    async def slow(scope, receive, send):
        await receive()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = RequestGuard(slow, timeout=5, max_body_bytes=100, max_pending=2)

    async def one(path: str = "/predict") -> int:
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message):
            sent.append(message)

        await guard({"type": "http", "headers": [], "path": path}, receive, send)
        return sent[0]["status"]

    async def run() -> list[int]:
        tasks = [asyncio.create_task(one()) for _ in range(2)]
        await asyncio.sleep(0.05)
        refused = await asyncio.wait_for(one(), 1)
        health = asyncio.create_task(one("/health"))
        await asyncio.sleep(0.05)
        release.set()
        return [refused, *await asyncio.gather(*tasks, health)]

    # the third request is refused at once; /health is let through even when busy
    assert asyncio.run(run()) == [503, 200, 200, 200]
    assert guard.pending == 0


# -- a real uvicorn on loopback, raw sockets ------------------------------------------------------
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def live(model):
    server, sock = make_server(
        [model],
        host="127.0.0.1",
        port=_free_port(),
        request_timeout=TIMEOUT,
        max_pending=8,  # fewer than the stalled bodies below: they must not hold its places
        write_timeout=TIMEOUT,
        log_level="error",
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield sock.getsockname()[:2]
    server.should_exit = True
    thread.join(10)
    sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connect(address) -> socket.socket:
    s = socket.create_connection(address, timeout=TIMEOUT + 5)
    return s


def _request(body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    head = b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % n + body


def _read_all(s: socket.socket) -> bytes:
    """Everything until the server closes (the socket timeout bounds the wait)."""
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def test_stalled_body_is_408_and_closed(live) -> None:
    with _connect(live) as s:
        t0 = time.monotonic()
        s.sendall(_request(b'{"space": "sss"', length=100))
        reply = _read_all(s)  # returns only once the server closed
        took = time.monotonic() - t0
    assert _status(reply) == 408 and b"within" in reply
    assert TIMEOUT * 0.9 < took < TIMEOUT + 2


@pytest.mark.parametrize("sent", [b"", b"POST /predict HTTP/1.1\r\nHost: t\r\n", b"GE"])
def test_stalled_headers_are_closed(live, sent) -> None:
    with _connect(live) as s:
        t0 = time.monotonic()
        s.sendall(sent)
        reply = _read_all(s)
        took = time.monotonic() - t0
    assert took < TIMEOUT + 2
    assert (reply == b"") if not sent else _status(reply) == 408


def test_many_stalled_connections_are_all_closed(live) -> None:
    conns = [_connect(live) for _ in range(60)]
    try:
        for i, s in enumerate(conns):
            s.sendall(_request(b"{", length=50) if i % 2 else b"POST /predict HTTP/1.1\r\n")
        # meanwhile the server still answers (30 stalled bodies > max_pending: no 503)
        with _connect(live) as s:
            s.sendall(_request((HEAD + "}").encode()))
            assert _status(s.recv(65536)) == 200
        t0 = time.monotonic()
        for s in conns:
            _read_all(s)  # raises socket.timeout if a connection is held past TIMEOUT + 5
        assert time.monotonic() - t0 < TIMEOUT + 3
    finally:
        for s in conns:
            s.close()


def test_a_422_keeps_the_connection(live) -> None:
    with _connect(live) as s:
        for body, status in [
            (HEAD + ', "alpha": NaN}', 422),
            ('{"space": "sss", "dataset": "cifar10", "archs": ["\\ud800"]}', 422),
            (HEAD + "}", 200),
        ]:
            s.sendall(_request(body.encode()))
            head = s.recv(65536)
            assert _status(head) == status, head
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            got = len(head.split(b"\r\n\r\n", 1)[1])
            while got < length:
                got += len(s.recv(65536))


@pytest.mark.slow  # waits out the write deadline (3 s)
def test_a_client_that_does_not_read_is_closed(live) -> None:
    body = json.dumps({"space": "sss", "dataset": "cifar10", "archs": list(range(16_384))})
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(live)
        s.settimeout(TIMEOUT + 10)
        s.sendall(_request(body.encode()))
        time.sleep(TIMEOUT + 2)  # read nothing: the server's write stalls
        reply = _read_all(s)
    head, _, content = reply.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    assert _status(head) == 200 and len(content) < length  # cut off, not held open


def test_declared_oversize_body_is_413_without_reading_it(live) -> None:
    with _connect(live) as s:
        s.sendall(_request(b"", length=10**9))
        assert _status(s.recv(65536)) == 413


# -- calnas serve: bad options -------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_dir(model, tmp_path_factory) -> Path:
    return model.save(tmp_path_factory.mktemp("served") / "m")


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in [folder, *folder.rglob("*")]}


def _refused(capsys, folder: Path, argv: list[str], *names: str) -> str:
    # the rule of tests/test_cli_corpus.py: exit 2, one stderr line naming it, nothing written
    before = _snapshot(folder)
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("calnas"), err
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert _snapshot(folder) == before, "something was written"
    return lines[0]


@pytest.mark.parametrize(
    ("option", "value", "names"),
    [
        ("--port", "99999", ["--port", "65535", "99999"]),
        ("--port", "-1", ["--port", "-1"]),
        ("--port", "0", ["--port", "0"]),
        ("--port", "http", ["--port", "http"]),
        ("--host", "", ["--host", "0.0.0.0"]),
        ("--host", "  ", ["--host"]),
        ("--max-archs", "0", ["--max-archs", "0"]),
        ("--max-archs", "-5", ["--max-archs"]),
        ("--max-body-bytes", "0", ["--max-body-bytes"]),
        ("--request-timeout", "0", ["--request-timeout"]),
        ("--request-timeout", "nan", ["--request-timeout"]),
        ("--request-timeout", "inf", ["--request-timeout"]),
        ("--write-timeout", "-1", ["--write-timeout"]),
        ("--max-connections", "0", ["--max-connections"]),
        ("--max-pending", "0", ["--max-pending"]),
        # refused without a DNS query: an IDNA label over 63 characters, an address not ours
        ("--host", "x" * 64 + ".example", ["cannot listen", "unknown host"]),
        ("--host", "192.0.2.1", ["cannot listen on 192.0.2.1:8000"]),
    ],
)
def test_serve_refuses_bad_options(capsys, tmp_path, monkeypatch, model_dir, option, value, names):
    monkeypatch.chdir(tmp_path)
    argv = ["serve", "--model", str(model_dir), "--port", "8000", option, value]
    SENT.append(" ".join(argv))
    _refused(capsys, tmp_path, argv, *names)


def test_serve_on_a_port_in_use_is_one_line(capsys, tmp_path, monkeypatch, model_dir) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = _refused(capsys, tmp_path, ["serve", "--model", str(model_dir), "--port", port])
    assert f"127.0.0.1:{port}" in line and "in use" in line


def test_serve_defaults_bound_everything(model) -> None:
    from bench.cliutil import ArgumentParser
    from surrogate.cli import register

    parser = ArgumentParser(prog="calnas")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--model", "m"])
    assert (args.host, args.port, args.request_timeout) == ("127.0.0.1", 8000, 10.0)
    assert (args.max_connections, args.max_pending, args.write_timeout) == (512, 64, 60.0)
    guard = [m for m in create_app([model]).user_middleware if m.cls is RequestGuard]
    assert guard[0].kwargs["max_pending"] == 64 and guard[0].kwargs["timeout"] == 10.0


_H = b"Host: t\r\n"
_MALFORMED_HTTP = [
    b"BREW /predict HTTP/1.1\r\n" + _H + b"Content-Length: 0\r\n\r\n",
    b"GET /health\r\n\r\n",
    b"\x00\x01\x02\xff\r\n\r\n",
    b"POST /predict HTTP/1.1\r\n" + _H + b"Content-Length: -5\r\n\r\n{}",
    b"POST /predict HTTP/1.1\r\n" + _H + b"Content-Length: ten\r\n\r\n{}",
    b"POST /predict HTTP/1.1\r\n" + _H + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"POST /predict HTTP/1.1\r\n" + _H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"POST /predict HTTP/1.1\r\n" + _H + b"Transfer-Encoding: gzip\r\n\r\nxx",
    b"POST /predict HTTP/1.1\r\n" + _H + b"X-A: " + b"a" * 200_000 + b"\r\n\r\n",
    b"POST /predict HTTP/1.1\r\n" + _H + b"Broken header\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /\xff HTTP/1.1\r\n" + _H + b"Content-Length: 2\r\n\r\n{}",
    b"POST /predict HTTP/1.1\r\n" + _H + b"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /predict HTTP/1.1\r\n"
    + _H
    + b"Transfer-Encoding: chunked\r\n\r\n"
    + (b"4e20\r\n" + b"[" * 20_000 + b"\r\n") * 2
    + b"0\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n" + _H + b"\r\n",
]


@pytest.mark.parametrize("data", _MALFORMED_HTTP, ids=range(len(_MALFORMED_HTTP)))
def test_malformed_http_is_4xx(live, data) -> None:
    with _connect(live) as s:
        try:
            s.sendall(data)
        except ConnectionResetError:  # refused before everything was sent: no answer to check
            return
        head = s.recv(65536)
    assert head.startswith(b"HTTP/1.1 4"), head[:200]
