"""Starts the reference server as a process and checks the Python client
against it over the wire: push, pull (with pages), subscribe, errors.

    PYTHONPATH=gen/python:examples/python-client .venv/bin/pytest examples/python-client
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from pocket_client import PocketClient

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "python-token"


@pytest.fixture(scope="module")
def server_url():
    with tempfile.TemporaryDirectory() as tmp:
        tokens = Path(tmp) / "tokens"
        tokens.write_text(f"{TOKEN} python\n")
        command = os.environ.get("POCKET_REFERENCE_SERVER", "node --import tsx server/src/serve/cli.ts").split()
        proc = subprocess.Popen(
            [*command, "--port", "0", "--storage", "memory", "--data-dir", str(Path(tmp) / "data"),
             "--token-file", str(tokens), "--heartbeat-ms", "500", "--log-level", "warn"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            url = None
            deadline = time.time() + 30
            assert proc.stdout is not None
            while time.time() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                match = re.search(r"listening on (http://\S+)", line)
                if match:
                    url = match.group(1).rstrip("/")
                    break
            assert url, "the reference server did not start"
            # Keep draining its output so it never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def collection() -> str:
    return f"py{uuid.uuid4().hex[:8]}"


def test_push_then_another_client_pulls(server_url):
    todos = collection()
    alice = PocketClient(server_url, token=TOKEN)
    alice.put(todos, "a", {"title": "Café ☕", "n": 9007199254740993, "tags": ["x"], "_id": "stripped"})
    response = alice.push()
    assert response is not None and response.results[0].WhichOneof("outcome") == "accepted"
    assert alice.docs[(todos, "a")].revision == response.results[0].accepted.revision

    bob = PocketClient(server_url, token=TOKEN)
    assert bob.pull([todos]) == 1
    assert bob.get(todos, "a") == {"title": "Café ☕", "n": 9007199254740993, "tags": ["x"]}

    # Bob updates, Alice pulls from her checkpoint and gets only that change.
    bob.put(todos, "a", {"title": "changed"})
    bob.push()
    alice.pull([todos])
    assert alice.get(todos, "a") == {"title": "changed"}
    assert alice.pull([todos]) == 0


def test_pull_pages_and_deletes(server_url):
    todos = collection()
    writer = PocketClient(server_url, token=TOKEN)
    for i in range(25):
        writer.put(todos, f"d{i}", {"i": i})
    writer.push()
    writer.delete(todos, "d0")
    writer.push()
    reader = PocketClient(server_url, token=TOKEN)
    assert reader.pull([todos], limit=10) == 25
    assert reader.get(todos, "d0") is None
    assert reader.get(todos, "d24") == {"i": 24}


def test_conflict_adopts_server_version(server_url):
    todos = collection()
    a = PocketClient(server_url, token=TOKEN)
    b = PocketClient(server_url, token=TOKEN)
    a.put(todos, "x", {"v": 1})
    a.push()
    b.pull([todos])
    a.put(todos, "x", {"v": 2})
    a.push()
    b.put(todos, "x", {"v": 3})  # based on v1: conflicts
    response = b.push()
    assert response is not None and response.results[0].WhichOneof("outcome") == "conflict"
    assert b.get(todos, "x") == {"v": 2}


def test_subscribe_catch_up_then_live(server_url):
    todos = collection()
    writer = PocketClient(server_url, token=TOKEN)
    writer.put(todos, "old", {"v": 1})
    writer.push()
    reader = PocketClient(server_url, token=TOKEN)
    seen: list[str] = []
    caught_up = threading.Event()
    done = threading.Event()

    def follow():
        for message in reader.subscribe([todos], heartbeat_ms=500, timeout_ms=15000):
            if message.WhichOneof("event") == "changes":
                seen.extend(c.document_id for c in message.changes.changes)
                if message.changes.caught_up:
                    caught_up.set()
            if "live" in seen:
                done.set()
                return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert caught_up.wait(10), "no caught_up batch"
    assert seen == ["old"]
    writer.put(todos, "live", {"v": 2})
    writer.push()
    assert done.wait(10), "the live change did not arrive"
    assert seen == ["old", "live"]
    assert reader.get(todos, "live") == {"v": 2}
    assert reader.checkpoint.collections[todos] > 0


def test_errors_carry_codes(server_url):
    anonymous = PocketClient(server_url)
    with pytest.raises(ConnectError) as refused:
        anonymous.pull(["todos"])
    assert refused.value.code == Code.UNAUTHENTICATED
    client = PocketClient(server_url, token=TOKEN)
    with pytest.raises(ConnectError) as invalid:
        client.pull(["1 not a collection"])
    assert invalid.value.code == Code.INVALID_ARGUMENT
