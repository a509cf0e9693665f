"""A lean keep-alive HTTP/1.1 client for load benchmarks (`benchmarks/service_load.py`): the
clients share the machine's cores with the server they load, so they must cost little."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httptools


class _Response:
    """httptools' callbacks for one response."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


class Connection:
    """One client's keep-alive HTTP/1.1 connection: requests written as bytes, responses parsed
    by httptools (uvicorn's own C parser). The clients share the machine's cores with the
    server, and a full HTTP client costs about as much CPU per request as the server itself;
    this one sends the same requests and reads every response whole, for a fraction of it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes):
        self.reader, self.writer, self.head = reader, writer, head

    @classmethod
    async def open(cls, url: str, headers: dict[str, str]) -> Connection:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        lines = [f"Host: {host}:{port}"] + [f"{k}: {v}" for k, v in headers.items()]
        return cls(reader, writer, "".join(f"{line}\r\n" for line in lines).encode())

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, the JSON body) of one request."""
        data = b"" if body is None else json.dumps(body).encode()
        kind = b"Content-Type: application/json\r\n" if body is not None else b""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n".encode()
            + self.head
            + kind
            + b"Content-Length: %d\r\n\r\n" % len(data)
            + data
        )
        response = _Response()
        parser = httptools.HttpResponseParser(response)
        while not response.complete:
            chunk = await self.reader.read(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            parser.feed_data(chunk)
        return parser.get_status_code(), json.loads(response.body) if response.body else None

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
