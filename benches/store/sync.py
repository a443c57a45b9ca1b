"""Replay speed: stores N messages for an offline user, then times their
replay by the push at connect and by a cmd 30 (PROTOCOL.md section 4).

usage: sync.py PORT SECRET IMEDGE_BIN N
"""
import asyncio
import json
import subprocess
import sys
import time

import websockets

PORT, SECRET, BIN, N = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def url(uid):
    token = subprocess.check_output(
        [BIN, "token", "--uid", str(uid), "--secret", SECRET]).decode().strip()
    return f"ws://127.0.0.1:{PORT}/chat?id={uid}&token={token}"


async def until_done(ws):
    """Frames received before the next cmd 31."""
    got = 0
    while json.loads(await ws.recv()).get("cmd") != 31:
        got += 1
    return got


async def main():
    sender, receiver = url(1), url(2)
    async with websockets.connect(sender, max_size=None) as a:
        await until_done(a)
        async with websockets.connect(receiver, max_size=None) as b:
            await until_done(b)  # user 2 is known, and now offline
        for i in range(N):
            await a.send(json.dumps({"id": i + 1, "userid": 1, "cmd": 10, "dstid": 2,
                                     "media": 1, "content": "x" * 100}))
        acks = 0
        while acks < N:
            acks += json.loads(await a.recv()).get("cmd") == 20
    async with websockets.connect(receiver, max_size=None) as b:
        t0 = time.perf_counter()
        pushed = await until_done(b)
        push_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        await b.send(json.dumps({"cmd": 30, "id": 7, "inbox": 0, "groups": {}}))
        synced = await until_done(b)
        sync_s = time.perf_counter() - t0
    assert pushed == N and synced == N, (pushed, synced)
    print(f"push {N / push_s:,.0f}/s, cmd 30 {N / sync_s:,.0f}/s ({N:,} messages)")


asyncio.run(main())
