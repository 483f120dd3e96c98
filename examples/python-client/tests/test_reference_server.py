"""The Python client against the reference server, over the wire: push, pull
(with pages), conflicts, the live stream, errors. The conformance suite
judges the same client in depth (`python -m pocket_client control`); these
are the library's own end-to-end checks.

    .venv/bin/pytest examples/python-client    (after bash scripts/setup-python.sh)
"""
from __future__ import annotations

import asyncio
import os
import re
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from pocket_client import PocketClient, Strategy, SyncConfig

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "python-token"
T = TypeVar("T")


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        tokens = Path(tmp) / "tokens"
        tokens.write_text(f"{TOKEN} python\n")
        command = os.environ.get("POCKET_REFERENCE_SERVER", "node --import tsx server/src/serve/cli.ts").split()
        proc = subprocess.Popen(
            [*command, "--port", "0", "--host", "127.0.0.1", "--storage", "memory", "--data-dir", str(Path(tmp) / "data"),
             "--token-file", str(tokens), "--heartbeat-ms", "500", "--log-level", "warn"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            assert proc.stdout is not None
            url = None
            deadline = time.time() + 30
            while url is None and time.time() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                if match := re.search(r"listening on (http://\S+)", line):
                    url = match.group(1).rstrip("/")
            assert url, "the reference server did not start"
            # Keep draining its output so it never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def data_dirs(tmp_path: Path) -> Callable[[str], Path]:
    return lambda name: tmp_path / name


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())


def collection() -> str:
    return f"py{uuid.uuid4().hex[:8]}"


async def open_client(url: str, data_dir: Path, collections: list[str], **settings: object) -> PocketClient:
    config = SyncConfig(url, collections=tuple(collections), token=TOKEN, **settings)  # type: ignore[arg-type]
    return await PocketClient.open(config, data_dir=data_dir)


def test_push_then_another_client_pulls(server_url: str, data_dirs: Callable[[str], Path]):
    todos = collection()

    async def scenario() -> None:
        async with await open_client(server_url, data_dirs("alice"), [todos]) as alice, await open_client(server_url, data_dirs("bob"), [todos]) as bob:
            alice.put(todos, "a", {"title": "Café ☕", "n": 9007199254740993, "tags": ["x"], "_id": "stripped"})
            assert (await alice.sync()).pushed == 1
            mine = alice.local(todos, "a")
            assert mine is not None and mine.revision and not mine.pending

            assert (await bob.sync()).pulled == 1
            assert bob.get(todos, "a") == {"title": "Café ☕", "n": 9007199254740993, "tags": ["x"]}
            theirs = bob.local(todos, "a")
            assert theirs is not None and theirs.revision == mine.revision

            # Bob updates; Alice pulls from her checkpoint and gets only that change.
            bob.put(todos, "a", {"title": "changed"})
            await bob.sync()
            assert (await alice.sync()).pulled == 1
            assert alice.get(todos, "a") == {"title": "changed"}
            assert (await alice.sync()).pulled == 0

    run(scenario)


def test_pull_pages_deletes_and_a_restart(server_url: str, data_dirs: Callable[[str], Path]):
    todos = collection()

    async def scenario() -> None:
        async with await open_client(server_url, data_dirs("writer"), [todos]) as writer:
            for i in range(25):
                writer.put(todos, f"d{i}", {"i": i})
            await writer.sync()
            writer.delete(todos, "d0")
            await writer.sync()
        async with await open_client(server_url, data_dirs("reader"), [todos], page_size=10) as reader:
            assert (await reader.sync()).pulled == 25
            assert reader.get(todos, "d0") is None
            assert reader.get(todos, "d24") == {"i": 24}
            client_id, checkpoint = reader.client_id, reader.checkpoint
        # The replica, its id and its checkpoint survive a restart.
        async with await open_client(server_url, data_dirs("reader"), [todos]) as reopened:
            assert (reopened.client_id, reopened.checkpoint) == (client_id, checkpoint)
            assert len(reopened.all(todos)) == 24
            assert (await reopened.sync()).pulled == 0

    run(scenario)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Strategy.SERVER_WINS, {"a": 2, "b": 1}),
        (Strategy.CLIENT_WINS, {"a": 1, "b": 3}),
        (Strategy.MERGE, {"a": 2, "b": 3}),
    ],
)
def test_conflicts_are_settled_by_the_clients_strategy(server_url: str, data_dirs: Callable[[str], Path], strategy: Strategy, expected: dict):
    todos = collection()

    async def scenario() -> None:
        async with await open_client(server_url, data_dirs("a"), [todos]) as a, await open_client(server_url, data_dirs("b"), [todos], strategy=strategy) as b:
            a.put(todos, "x", {"a": 1, "b": 1})
            await a.sync()
            await b.sync()
            a.put(todos, "x", {"a": 2, "b": 1})
            await a.sync()
            b.put(todos, "x", {"a": 1, "b": 3})  # based on the first version: conflicts
            assert (await b.sync()).conflicts == 1
            assert b.get(todos, "x") == expected
            await a.sync()
            assert a.get(todos, "x") == expected
            assert b.pending_count == 0

    run(scenario)


def test_the_live_stream_catches_up_then_follows(server_url: str, data_dirs: Callable[[str], Path]):
    todos = collection()

    async def scenario() -> None:
        async with await open_client(server_url, data_dirs("writer"), [todos]) as writer:
            writer.put(todos, "old", {"v": 1})
            await writer.sync()
            async with await open_client(server_url, data_dirs("reader"), [todos], live=True, heartbeat_interval_ms=500) as reader:
                async with asyncio.timeout(10):
                    while not reader.engine.subscribed:
                        await asyncio.sleep(0.05)
                assert reader.get(todos, "old") == {"v": 1}
                writer.put(todos, "live", {"v": 2})
                await writer.sync()
                async with asyncio.timeout(10):
                    while reader.get(todos, "live") is None:
                        await asyncio.sleep(0.05)
                assert reader.checkpoint.collections[todos] > 0

    run(scenario)


def test_errors_carry_their_codes(server_url: str, data_dirs: Callable[[str], Path]):
    async def scenario() -> None:
        anonymous = SyncConfig(server_url, collections=("todos",))
        async with await PocketClient.open(anonymous, data_dir=data_dirs("anonymous")) as client:
            with pytest.raises(ConnectError) as refused:
                await client.sync()
            assert refused.value.code == Code.UNAUTHENTICATED
        async with await open_client(server_url, data_dirs("invalid"), ["1 not a collection"]) as client:
            with pytest.raises(ConnectError) as invalid:
                await client.sync()
            assert invalid.value.code == Code.INVALID_ARGUMENT

    run(scenario)
