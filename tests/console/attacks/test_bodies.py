"""Bodies: a stranger's is never read (or drained), and every body is capped before it is
read, by its Content-Length or, for a chunked one, as it arrives."""

from __future__ import annotations

import threading

import pytest

from .wire import (
    Response,
    Session,
    Target,
    head_bytes,
    peak_growth_mib,
    read_response,
    request,
    send_streamed,
    zeros,
)

MB = 1000 * 1000
MiB = 1024 * 1024


def chunked(total: int, chunk: int = MiB):
    """A chunked body of ``total`` zero bytes, framed as it goes."""
    for block in zeros(total, chunk):
        yield f"{len(block):x}\r\n".encode() + block + b"\r\n"
    yield b"0\r\n\r\n"


def body_attack(target: Target, head: bytes, body) -> tuple[Response | None, int]:
    """Send ``head`` and stream ``body`` while reading the answer on another thread; the
    answer and how many body bytes the server let in before it closed the connection."""
    answers: list[Response] = []
    with target.connect() as sock:
        sock.settimeout(10)
        reader = threading.Thread(target=lambda: answers.append(read_response(sock)))
        reader.start()
        sent = send_streamed(sock, head, body)
        reader.join(10)
    return (answers[0] if answers else None), sent


STRANGERS = [
    # (method, path, declared length or None for chunked, total bytes, expected status)
    ("POST", "/api/uploadModels", 600 * MB, 600 * MB, 413),  # over the upload cap
    ("POST", "/api/uploadModels", 150 * MB, 600 * MB, 401),  # under it: still not read
    ("POST", "/api/uploadModels", None, 600 * MB, 401),
    ("PUT", "/api/v1/calibration", 600 * MB, 600 * MB, 413),
    ("GET", "/login", 300 * MB, 300 * MB, 413),
    ("GET", "/login", None, 300 * MB, 413),
]


@pytest.mark.parametrize("method, path, declared, total, status", STRANGERS)
def test_a_strangers_body_is_answered_without_being_read(
    target: Target, method, path, declared, total, status
) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    if declared is None:
        headers["Transfer-Encoding"] = "chunked"
        body = chunked(total)
    else:
        headers["Content-Length"] = str(declared)
        body = zeros(total)
    (answer, sent), growth = peak_growth_mib(
        lambda: body_attack(target, head_bytes(method, path, headers), body)
    )
    assert answer is not None and answer.status == status, answer
    assert answer.headers.get("connection") == "close"
    # The connection closed long before the body ended: kernel buffers, not the server, took
    # what was sent (a drained 600 MB would have been sent whole).
    assert sent < 64 * MiB, sent
    assert growth < 10, f"peak RSS grew {growth:.1f} MiB"


def test_an_operators_chunked_upload_is_cut_at_the_cap(serve, operator_for) -> None:
    _, target = serve(max_upload_bytes=2 * MiB)
    session: Session = operator_for(target)
    headers = {
        **session.headers(),
        "Content-Type": "multipart/form-data; boundary=x",
        "Transfer-Encoding": "chunked",
    }
    preamble = b'--x\r\nContent-Disposition: form-data; name="file"; filename="m.tar.gz"\r\n\r\n'
    body = iter([f"{len(preamble):x}\r\n".encode() + preamble + b"\r\n", *chunked(100 * MiB)])
    (answer, sent), growth = peak_growth_mib(
        lambda: body_attack(target, head_bytes("POST", "/api/v1/models", headers), body)
    )
    assert answer is not None and answer.status == 413, answer
    assert "limit" in answer.json_reason()
    assert sent < 2 * MiB + 64 * MiB  # the cap plus what kernel buffers hold, not 100 MiB
    assert growth < 10, f"peak RSS grew {growth:.1f} MiB"


def test_an_operators_small_body_over_the_cap_is_refused_unread(
    target: Target, operator: Session
) -> None:
    headers = {**operator.headers(), "Content-Type": "application/json"}
    answer = request(target, "PUT", "/api/v1/mode", {**headers, "Content-Length": str(MiB)})
    assert answer.status == 413


@pytest.mark.parametrize(
    "framing",
    [
        {"Content-Length": ["5", "6"]},
        {"Content-Length": ["5, 6"]},
        {"Content-Length": ["5"], "Transfer-Encoding": ["chunked"]},
        {"Content-Length": ["-5"]},
        {"Transfer-Encoding": ["gzip"]},
    ],
    ids=["two lengths", "list of lengths", "length and chunked", "negative", "gzip coding"],
)
def test_ambiguous_framing_is_refused(
    target: Target, operator: Session, service, framing: dict[str, list[str]]
) -> None:
    lines = [f"{name}: {value}" for name, values in framing.items() for value in values]
    head = head_bytes("PUT", "/api/v1/mode", operator.headers())[:-2]
    raw = head + ("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"mode":"autonomous"}'
    with target.connect() as sock:
        sock.sendall(raw)
        answer = read_response(sock)
    assert 400 <= answer.status < 500 or answer.status == 501, answer
    assert service.status()["mode"] == "manual"
