"""``streamfold fold``, run as a user would (in a subprocess), against both implementations."""

from __future__ import annotations

import gzip
import random
import subprocess
from pathlib import Path

import orjson
import pytest
from conftest import DATA
from run_cli import argv, cli_env, one_error, run, run_with_terminal_stderr
from streams import chunk, sse

import streamfold

SAMPLE = DATA / "openai-recorded" / "parse_multiple_pydantic_tools.sse"
BUNDLED = Path(streamfold.__file__).parent / "data" / "sample.sse"
#: A stream whose second event is not JSON: the first one's text must survive.
BAD = sse(chunk("kept", role="assistant"), done=False) + b"data: {oops\n\n"


def test_fold_with_no_file_folds_the_bundled_sample(cli_impl: str) -> None:
    proc = run("fold", impl=cli_impl)
    assert proc.returncode == 0, proc.stderr
    result = orjson.loads(proc.stdout)
    assert result == streamfold.fold(BUNDLED.read_bytes())
    assert result["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_fold_file_and_stdin_match_the_library(cli_impl: str) -> None:
    expected = streamfold.fold(SAMPLE.read_bytes())
    from_file = run("fold", str(SAMPLE), "--compact", impl=cli_impl)
    from_stdin = run("fold", "-", stdin=SAMPLE.read_bytes(), impl=cli_impl)
    assert from_file.returncode == from_stdin.returncode == 0
    assert orjson.loads(from_file.stdout) == orjson.loads(from_stdin.stdout) == expected
    assert from_file.stdout.count(b"\n") == 1  # --compact: one line
    assert from_file.stderr == from_stdin.stderr == b""


def test_events_are_the_apis_events_one_json_object_a_line(cli_impl: str) -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a"'}}
    stream = sse(
        chunk("Hi", role="assistant"),
        chunk(" there"),
        chunk(tool_calls=[call]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": ": 1}"}}]),
        chunk(finish="tool_calls"),
    )
    proc = run("fold", "--events", "-", stdin=stream, impl=cli_impl)
    assert proc.returncode == 0, proc.stderr
    records = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert [r for r in records if r["type"] != "chunk"] == [
        {"type": "content.delta", "choice_index": 0, "delta": "Hi"},
        {"type": "content.delta", "choice_index": 0, "delta": " there"},
        {
            "type": "tool_calls.function.arguments.delta",
            "choice_index": 0,
            "index": 0,
            "id": "call_1",
            "name": "f",
            "arguments_delta": '{"a"',
            "parsed_arguments": None,
        },
        {
            "type": "tool_calls.function.arguments.delta",
            "choice_index": 0,
            "index": 0,
            "id": "call_1",
            "name": "f",
            "arguments_delta": ": 1}",
            "parsed_arguments": None,
        },
        {"type": "content.done", "choice_index": 0, "finish_reason": "tool_calls", "content": "Hi there"},
        {
            "type": "tool_calls.function.arguments.done",
            "choice_index": 0,
            "index": 0,
            "id": "call_1",
            "name": "f",
            "arguments": '{"a": 1}',
            "parsed_arguments": {"a": 1},
            "error": None,
            "finish_reason": "tool_calls",
        },
    ]
    chunks = [r for r in records if r["type"] == "chunk"]
    assert [r["chunk"] for r in chunks] == [orjson.loads(line[6:]) for line in stream.split(b"\n\n")[:5]]
    assert {r["choice_index"] for r in chunks} == {-1}


def test_events_follow_the_library_on_a_recorded_stream(cli_impl: str) -> None:
    proc = run("fold", "--events", "--snapshots", str(SAMPLE), impl=cli_impl)
    assert proc.returncode == 0, proc.stderr
    records = [orjson.loads(line) for line in proc.stdout.splitlines()]
    expected = list(streamfold.iter_events(SAMPLE.read_bytes()))
    assert [(r["type"], r["choice_index"]) for r in records] == [(e.type, e.choice_index) for e in expected]
    deltas = [(r, e) for r, e in zip(records, expected) if e.type == "tool_calls.function.arguments.delta"]
    assert deltas and all(r["arguments"] == e.arguments for r, e in deltas)  # type: ignore[attr-defined]
    done = [r for r in records if r["type"] == "tool_calls.function.arguments.done"]
    final = streamfold.fold(SAMPLE.read_bytes())["choices"][0]["message"]["tool_calls"]
    assert [orjson.loads(call["function"]["arguments"]) for call in final] == [r["parsed_arguments"] for r in done]


def test_sse_prints_the_framed_events_with_json_data_parsed(cli_impl: str) -> None:
    stream = b'id: 7\nevent: ping\ndata: a\ndata: b\n\n: c\n\ndata: {"x": [1]}\n\ndata: [DONE]\n\n'
    proc = run("fold", "--sse", "-", stdin=stream, impl=cli_impl)
    assert proc.returncode == 0, proc.stderr
    assert [orjson.loads(line) for line in proc.stdout.splitlines()] == [
        {"event": "ping", "data": "a\nb", "id": "7", "retry": None},
        {"event": "message", "data": {"x": [1]}, "id": "7", "retry": None},
        {"event": "message", "data": "[DONE]", "id": "7", "retry": None},
    ]


def test_bad_stream_exits_1_with_one_line_error_and_the_partial(cli_impl: str) -> None:
    for mode in ([], ["--events"]):
        proc = run("fold", *mode, "-", stdin=BAD, impl=cli_impl)
        assert one_error(proc, 1).startswith("event 2: invalid JSON")
        partial = proc.stderr.decode().splitlines()[-1]
        assert orjson.loads(partial.removeprefix("partial completion: "))["choices"][0]["message"]["content"] == "kept"
        if mode:  # the events before the bad one were printed
            assert {"type": "content.delta", "choice_index": 0, "delta": "kept"} in [
                orjson.loads(line) for line in proc.stdout.splitlines()
            ]
        else:
            assert proc.stdout == b""


def test_unfinished_stream_exits_1(cli_impl: str) -> None:
    proc = run("fold", "-", stdin=sse(chunk("cut"), done=False), impl=cli_impl)
    assert "no finish_reason" in one_error(proc, 1)
    assert b'"content":"cut"' in proc.stderr


def _json_lines() -> bytes:
    return b"".join(orjson.dumps(chunk(word)) + b"\n" for word in ("a", "b", "c"))


NOT_STREAMS = {
    "empty": (b"", "the input is empty (0 bytes)"),
    "random bytes": (random.Random(7).randbytes(4096), "binary data, not an event stream: no data: events in 4,096"),
    "gzip": (gzip.compress(sse(chunk("x", finish="stop"))), "gzip-compressed: decompress it first (gunzip -c"),
    "completion JSON": (
        orjson.dumps(streamfold.fold(sse(chunk("x", finish="stop")))),
        "this is JSON, not an event stream (a whole chat.completion",
    ),
    "error JSON": (
        b'{"error": {"message": "Incorrect API key provided"}}',
        "this is JSON, not an event stream (an error response: 'Incorrect API key provided')",
    ),
    "other JSON": (b'{"hello": 1}', "this is JSON, not an event stream (a non-streaming response?)"),
    "JSON lines": (_json_lines(), "this is JSON lines (3 lines), not an event stream"),
    "text": (
        b"hello\nworld\n",
        "no data: events in 12 bytes (2 lines, none starting with 'data:'; the first: 'hello')",
    ),
    "comments": (b": ping\n\n: ping\n\n", "no data: events in 16 bytes: only comments"),
    "no blank line": (b'data: {"choices": []}', "no complete event in 21 bytes: an event ends with a blank line"),
    "pings": (b"event: ping\ndata: hi\n\n" * 2, "2 events in 44 bytes but no chunk"),
}


@pytest.mark.parametrize("name", list(NOT_STREAMS))
def test_fold_and_events_say_what_the_input_is(name: str, cli_impl: str, tmp_path: Path) -> None:
    data, expected = NOT_STREAMS[name]
    path = tmp_path / "input"
    path.write_bytes(data)
    folded = one_error(run("fold", str(path), impl=cli_impl), 1)
    events = run("fold", "--events", str(path), impl=cli_impl)
    assert expected in folded
    assert one_error(events, 1) == folded and events.stdout == b""  # --events agrees with fold
    if name != "pings":  # the framing saw no event at all
        assert one_error(run("fold", "--sse", str(path), impl=cli_impl), 1) == folded


def test_done_alone_is_a_complete_empty_completion_and_an_empty_file_an_error(cli_impl: str) -> None:
    proc = run("fold", "--compact", "-", stdin=b"data: [DONE]\n\n", impl=cli_impl)
    assert proc.returncode == 0
    assert orjson.loads(proc.stdout) == {
        "id": None,
        "object": "chat.completion",
        "created": None,
        "model": None,
        "choices": [],
    }
    assert proc.stderr.decode() == "streamfold: warning: only [DONE], no chunk: the completion is empty\n"
    assert "the input is empty" in one_error(run("fold", "-", stdin=b"", impl=cli_impl), 1)


def test_several_files_give_one_json_line_each(cli_impl: str, tmp_path: Path) -> None:
    good, bad, done = tmp_path / "good.sse", tmp_path / "bad.sse", tmp_path / "done.sse"
    good.write_bytes(SAMPLE.read_bytes())
    bad.write_bytes(BAD)
    done.write_bytes(b"data: [DONE]\n\n")
    proc = run(
        "fold", "--jsonl", str(good), str(bad), "-", str(done), stdin=sse(chunk("in", finish="stop")), impl=cli_impl
    )
    assert one_error(proc, 1).startswith(f"{bad}: event 2: invalid JSON")
    lines = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(good), str(bad), "-", str(done)]
    assert lines[0]["completion"] == streamfold.fold(SAMPLE.read_bytes())
    assert lines[1]["error"].startswith("event 2: invalid JSON")
    assert lines[1]["partial"]["choices"][0]["message"]["content"] == "kept" and "completion" not in lines[1]
    assert lines[2]["completion"]["choices"][0]["message"]["content"] == "in"
    assert lines[3]["completion"]["choices"] == []
    assert f"warning: {done}: only [DONE]" in proc.stderr.decode()


def _long_bad_stream() -> tuple[bytes, dict[str, object]]:
    stream = sse(*(chunk(f"word{i} ") for i in range(400)), done=False) + b"data: {oops\n\n"
    with pytest.raises(streamfold.StreamDecodeError) as caught:
        streamfold.fold(stream)
    assert caught.value.partial is not None
    return stream, caught.value.partial


def test_the_partial_is_cut_on_a_terminal_and_whole_elsewhere(cli_impl: str, tmp_path: Path) -> None:
    stream, partial = _long_bad_stream()
    path = tmp_path / "long.sse"
    path.write_bytes(stream)
    proc, shown = run_with_terminal_stderr("fold", str(path), impl=cli_impl)
    assert proc.returncode == 1
    lines = shown.splitlines()
    assert lines[0].startswith("streamfold: error: event 401: invalid JSON") and "Traceback" not in shown
    assert lines[1].startswith("partial completion: {") and len(lines[1]) < 500
    assert lines[1].endswith("more characters; --partial FILE writes it whole)")
    piped = run("fold", str(path), impl=cli_impl)  # stderr a pipe: nothing is cut
    assert orjson.loads(piped.stderr.decode().splitlines()[1].removeprefix("partial completion: ")) == partial
    whole = tmp_path / "partial.json"
    written = run("fold", str(path), "--partial", str(whole), impl=cli_impl)
    assert one_error(written, 1).startswith("event 401")
    assert orjson.loads(whole.read_bytes()) == partial
    assert written.stderr.decode().splitlines()[1] == f"partial completion written to {whole}"


def test_max_event_bytes_none_lifts_the_limit(cli_impl: str) -> None:
    big = sse(chunk("x" * 5000, finish="stop"))
    limited = run("fold", "--max-event-bytes", "1000", "-", stdin=big, impl=cli_impl)
    assert "1000" in one_error(limited, 1)
    unlimited = run("fold", "--max-event-bytes", "none", "-", stdin=big, impl=cli_impl)
    assert unlimited.returncode == 0
    assert orjson.loads(unlimited.stdout)["choices"][0]["message"]["content"] == "x" * 5000


def test_a_reader_that_goes_away_ends_it_quietly(tmp_path: Path) -> None:
    path = tmp_path / "many.sse"
    path.write_bytes(sse(*(chunk(f"w{i}") for i in range(20000)), chunk(finish="stop")))
    with subprocess.Popen(
        argv("fold", "--events", str(path)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env()
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert orjson.loads(proc.stdout.readline())["type"] == "chunk"
        proc.stdout.close()  # as `| head -1` does
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 0
    assert stderr == b""


def test_several_files_show_progress_on_a_terminal(tmp_path: Path) -> None:
    paths = []
    for number in range(3):
        paths.append(tmp_path / f"{number}.sse")
        paths[-1].write_bytes(sse(chunk(f"answer {number}", finish="stop")))
    proc, shown = run_with_terminal_stderr("fold", "--jsonl", *map(str, paths))
    assert proc.returncode == 0
    assert "\rfolded 1/3" in shown and shown.endswith("\r\x1b[K")  # shown, then wiped
    assert len(proc.stdout.splitlines()) == 3
    assert run("fold", "--jsonl", *map(str, paths)).stderr == b""  # not on a pipe
