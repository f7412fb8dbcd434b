"""The body size limit: refused by Content-Length before reading, and while streaming."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from workers.report.limits import BodyLimit

LIMIT = 1000


class Body(BaseModel):
    text: str


def make_client() -> tuple[TestClient, list[int]]:
    app = FastAPI()
    app.add_middleware(BodyLimit, max_bytes=LIMIT)
    read: list[int] = []

    @app.post("/model")
    def model(body: Body) -> dict[str, int]:
        return {"length": len(body.text)}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        async for chunk in request.stream():
            read.append(len(chunk))
        return {"length": sum(read)}

    return TestClient(app), read


@pytest.fixture
def client() -> Iterator[tuple[TestClient, list[int]]]:
    yield make_client()


def chunks(size: int, count: int) -> Iterator[bytes]:
    for _ in range(count):
        yield b"x" * size


def test_a_body_within_the_limit_is_read(client: tuple[TestClient, list[int]]) -> None:
    c, _ = client
    assert c.post("/model", json={"text": "x" * 900}).json() == {"length": 900}
    assert c.post("/raw", content=chunks(100, 10)).json() == {"length": 1000}


def test_a_declared_length_over_the_limit_is_refused_unread(client: tuple[TestClient, list[int]]) -> None:
    c, read = client
    answer = c.post("/raw", content=b"x" * 8_000_000)
    assert answer.status_code == 413
    assert "larger than 1000 bytes" in answer.json()["detail"]
    assert read == []


@pytest.mark.parametrize("path", ["/model", "/raw"])
def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(
    client: tuple[TestClient, list[int]], path: str
) -> None:
    c, read = client
    answer = c.post(path, content=chunks(300, 1000), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413, answer.text
    assert "larger than 1000 bytes" in answer.json()["detail"]
    assert sum(read) <= LIMIT


def test_a_content_length_that_is_not_a_number_is_a_400(client: tuple[TestClient, list[int]]) -> None:
    c, _ = client
    answer = c.post("/raw", content=b"{}", headers={"Content-Length": "lots"})
    assert answer.status_code == 400
