"""``streamfold batch`` in a subprocess against the real mock: interrupted and resumed, killed
and resumed, invalid lines, ``--ordered``, ``--summary``, progress (lines, and a live bar on a pty), usage errors."""

from __future__ import annotations

import random
import signal
import subprocess
from pathlib import Path

import orjson
import pytest
from batches import by_id, read_output, request_line, wait_for_lines, write_lines
from run_cli import argv, cli_env, one_error, run

pytest.importorskip("uvicorn")

from streamfold.mock import MockConfig, MockServer

#: Each answer takes about 40 ms (8 tokens 5 ms apart), so a run of 400 at 8 in flight lasts 2 s.
PACED = MockConfig(output_tokens=8, itl=0.005)


@pytest.fixture(scope="module")
def server() -> MockServer:
    with MockServer(PACED) as running:
        yield running


def _lines(count: int) -> list[dict[str, object]]:
    return [request_line(f"c{number}", {"seed": number}) for number in range(count)]


def _batch(server: MockServer, source: Path, output: Path, *extra: str) -> list[str]:
    return argv("batch", str(source), "-o", str(output), "--base-url", server.base_url, "--no-progress", *extra)


@pytest.mark.parametrize("seed", [14, 41])
def test_interrupted_then_resumed(server: MockServer, tmp_path: Path, seed: int) -> None:
    lines = _lines(400)
    source, output = write_lines(tmp_path / "in.jsonl", lines), tmp_path / "out.jsonl"
    at = random.Random(seed).randrange(10, 300)
    proc = subprocess.Popen(_batch(server, source, output, "--concurrency", "8"), stderr=subprocess.PIPE, env=cli_env())
    with proc:
        wait_for_lines(output, at, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    message = one_error(subprocess.CompletedProcess(proc.args, proc.returncode, b"", stderr), 130)
    first = read_output(output)
    assert at <= len(first) < 400
    assert f"{400 - len(first):,} requests not done" in message and "run the same command again" in message
    resumed = subprocess.run(_batch(server, source, output, "--concurrency", "8"), capture_output=True, env=cli_env())
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(first):,} already in the output" in resumed.stderr.decode()
    records = by_id(read_output(output))
    assert sorted(records) == sorted(line["custom_id"] for line in lines)
    assert all(record["error"] is None for record in records.values())


def test_sigterm_exits_143(server: MockServer, tmp_path: Path) -> None:
    source, output = write_lines(tmp_path / "in.jsonl", _lines(200)), tmp_path / "out.jsonl"
    proc = subprocess.Popen(_batch(server, source, output, "--concurrency", "4"), stderr=subprocess.PIPE, env=cli_env())
    with proc:
        wait_for_lines(output, 5, proc)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert "interrupted" in one_error(subprocess.CompletedProcess(proc.args, proc.returncode, b"", stderr), 143)


def test_a_killed_runs_half_line_is_cut_off_on_resume(server: MockServer, tmp_path: Path) -> None:
    lines = _lines(300)
    source, output = write_lines(tmp_path / "in.jsonl", lines), tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        _batch(server, source, output, "--concurrency", "8"), stderr=subprocess.DEVNULL, env=cli_env()
    )
    with proc:
        wait_for_lines(output, random.Random(7).randrange(10, 200), proc)
        proc.kill()
        proc.wait(timeout=30)
    whole = output.read_bytes()
    # one write per line cannot be cut by SIGKILL in practice: write what a cut write leaves
    torn = orjson.dumps(request_line("c299"))[:37]
    output.write_bytes(whole + torn)
    resumed = subprocess.run(_batch(server, source, output, "--concurrency", "8"), capture_output=True, env=cli_env())
    assert resumed.returncode == 0, resumed.stderr
    assert f"cut off an unfinished last line ({len(torn)} bytes)" in resumed.stderr.decode()
    records = by_id(read_output(output))
    assert sorted(records) == sorted(line["custom_id"] for line in lines)


def test_invalid_lines_are_reported_and_written_as_errors(server: MockServer, tmp_path: Path) -> None:
    good = _lines(3)
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b"\n".join(
            [
                orjson.dumps(good[0]),
                b"{not json",
                orjson.dumps({"method": "POST", "url": "/v1/chat/completions", "body": {"messages": []}}),
                orjson.dumps(good[1]),
                orjson.dumps(good[0]),  # duplicate custom_id
                orjson.dumps({**good[2], "url": "/v1/embeddings"}),
                b"",
                orjson.dumps({**request_line("c9"), "method": "GET"}),
            ]
        )
        + b"\n"
    )
    output = tmp_path / "out.jsonl"
    proc = run("batch", str(source), "-o", str(output), "--base-url", server.base_url, "--no-progress")
    assert "5 of 7 requests failed" in one_error(proc, 1)
    records = read_output(output)
    invalid = {record["streamfold"]["line"]: record for record in records if record["error"]}
    assert sorted(invalid) == [2, 3, 5, 6, 8]
    assert all(
        record["error"]["code"] == "invalid_request" and record["response"] is None for record in invalid.values()
    )
    assert "line 2 is not valid JSON" in invalid[2]["error"]["message"]
    assert invalid[3]["custom_id"] is None and "no custom_id" in invalid[3]["error"]["message"]
    assert invalid[5]["custom_id"] == "c0" and "duplicate custom_id" in invalid[5]["error"]["message"]
    assert "url must be /v1/chat/completions" in invalid[6]["error"]["message"]
    assert "method must be POST" in invalid[8]["error"]["message"]
    assert sorted(record["custom_id"] for record in records if not record["error"]) == ["c0", "c1"]
    said = [line for line in proc.stderr.decode().splitlines() if line.startswith("streamfold: warning: line ")]
    assert said == [f"streamfold: warning: {invalid[number]['error']['message']}" for number in (2, 3, 5, 6, 8)]
    again = run("batch", str(source), "-o", str(output), "--base-url", server.base_url, "--no-progress")
    assert again.returncode == 0 and len(read_output(output)) == 7  # resumed: the invalid lines are not written twice
    assert b"warning: line" not in again.stderr  # nor said again


def test_ordered_output_and_summary_json(server: MockServer, tmp_path: Path) -> None:
    # later requests answer sooner: as finished, the order would be turned around
    lines = [request_line(f"o{number}", {"seed": number, "output_tokens": 40 - number}) for number in range(40)]
    source, output, summary = write_lines(tmp_path / "in.jsonl", lines), tmp_path / "out.jsonl", tmp_path / "s.json"
    proc = run(*_batch(server, source, output, "--ordered", "--concurrency", "16", "--summary", str(summary))[3:])
    assert proc.returncode == 0, proc.stderr
    assert [record["custom_id"] for record in read_output(output)] == [line["custom_id"] for line in lines]
    figures = orjson.loads(summary.read_bytes())
    assert figures["requests"] == {"done": 40, "ok": 40, "failed": 0, "skipped": 0, "by_outcome": {"ok": 40}}
    assert figures["tokens"]["completion"] == sum(40 - number for number in range(40))
    latency = figures["latency_s"]["duration"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"]


def test_progress_lines_when_not_a_terminal(server: MockServer, tmp_path: Path) -> None:
    source, output = write_lines(tmp_path / "in.jsonl", _lines(60)), tmp_path / "out.jsonl"
    command = _batch(server, source, output, "--concurrency", "2", "--progress", "--progress-interval", "0.2")
    proc = subprocess.run(command, capture_output=True, env=cli_env())
    assert proc.returncode == 0, proc.stderr
    shown = [line for line in proc.stderr.decode().splitlines() if line.startswith("batch: ")]
    assert len(shown) >= 3 and "\r" not in proc.stderr.decode()
    assert shown[-1].startswith("batch: 60/60 done, 0 in flight, 0 errors")
    assert "in flight" in shown[0] and "ETA" in shown[0]


def test_usage_errors(tmp_path: Path) -> None:
    assert "no such input file" in one_error(run("batch", str(tmp_path / "none.jsonl"), "-o", "x"), 2)
    assert "required" in one_error(run("batch", "in.jsonl"), 2)
    assert "must be a whole number >= 1" in one_error(run("batch", "in.jsonl", "-o", "x", "--concurrency", "0"), 2)


def test_a_live_bar_on_a_terminal(server: MockServer, tmp_path: Path) -> None:
    """stderr a terminal (a pty): the progress is redrawn in place, not printed line after line."""
    import os
    import pty

    source, output = write_lines(tmp_path / "in.jsonl", _lines(40)), tmp_path / "out.jsonl"
    command = _batch(server, source, output, "--concurrency", "2", "--progress")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=cli_env()
        )
        os.close(slave)
        shown = b""
        while True:
            try:
                piece = os.read(master, 65536)
            except OSError:  # the pty is closed: the command has exited
                break
            if not piece:
                break
            shown += piece
        assert proc.wait(timeout=60) == 0, shown
    finally:
        os.close(master)
    text = shown.decode("utf-8", "replace")
    assert "\r" in text or "\x1b[" in text  # redrawn in place (rich's bar, or the plain line rewritten)
    assert "40/40" in text and "requests: 40 done" in text  # the bar's last state, then the summary
    assert len(read_output(output)) == 40
