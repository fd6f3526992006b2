"""An example chat bridge: a chat service's outgoing webhook POSTs ``{"text": "up 5 --pool x"}`` (Slack-like), this
relays the text to agentscaler's chat endpoint over NATS and answers ``{"text": "<reply>"}``.

    python3 docs/examples/chat_bridge.py --nats nats://localhost:4222 --port 8080 [--subject agentscaler.chat]

Under the secured bus, connect as the user whose role the chat may act with and send on its own subject:
``--subject agentscaler.chat.operate.as.<its public key>`` (see docs/nats-api.md, "agentscaler.chat"). Standard
library and nats-py only; it holds no state, so run it behind the chat service's TLS termination as is.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import nats
from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError

MAX_BODY = 64 * 1024


async def relay(nc: Client, subject: str, text: str) -> str:
    """The chat endpoint's reply to ``text``, or what went wrong in words."""
    try:
        reply = await nc.request(subject, text.encode(), timeout=10)
    except NoRespondersError:
        return f"no agentscaler policy answers on {subject}: is it running?"
    except TimeoutError:
        return "agentscaler did not answer within 10s"
    return reply.data.decode("utf-8", "replace")


async def handle(nc: Client, subject: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One HTTP/1.1 request: POST a JSON ``{"text": ...}``; the answer is JSON ``{"text": ...}``."""
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        method = head.split(" ", 1)[0]
        length = next(
            (int(line.split(":", 1)[1]) for line in head.split("\r\n") if line.lower().startswith("content-length:")),
            0,
        )
        if method != "POST" or not 0 < length <= MAX_BODY:
            status, body = "400 Bad Request", {"text": 'POST a JSON body {"text": "<command>"} of at most 64 KiB'}
        else:
            payload = json.loads(await reader.readexactly(length))
            text = payload.get("text") if isinstance(payload, dict) else None
            if not isinstance(text, str):
                status, body = "400 Bad Request", {"text": 'the body must be JSON {"text": "<command>"}'}
            else:
                status, body = "200 OK", {"text": await relay(nc, subject, text)}
    except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        status, body = "400 Bad Request", {"text": 'the body must be JSON {"text": "<command>"}'}
    data = json.dumps(body).encode()
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        "Connection: close\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    writer.close()


async def main(url: str, host: str, port: int, subject: str, creds: str | None) -> None:
    # On a secured bus the bridge is a user of its own (e.g. `agentscaler auth init`'s viewer or operator .creds)
    # and sends on `<subject>.as.<its key>`: see docs/operations.md#chat.
    nc = await nats.connect(url, user_credentials=creds)
    server = await asyncio.start_server(lambda r, w: handle(nc, subject, r, w), host, port)
    print(f"listening on http://{host}:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nats", default="nats://localhost:4222", help="NATS server URL")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free one)")
    parser.add_argument("--subject", default="agentscaler.chat", help="the chat subject to send on")
    parser.add_argument("--creds", help="NATS .creds file of the bridge's user (on a secured bus)")
    args = parser.parse_args()
    asyncio.run(main(args.nats, args.host, args.port, args.subject, args.creds))
