"""``streamfold batch --ray`` / ``streamfold.batch.ray`` on a real local Ray cluster (2 CPUs),
against the real mock over loopback: the same output as a single-machine run, the same resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from run_cli import one_error, run

from streamfold import batch
from streamfold.batch._output import record_key
from streamfold.mock import MockConfig, MockServer

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pytest.importorskip("uvicorn")
from streamfold.batch import ray as on_ray  # noqa: E402

TOKENS = 6
#: Record members that differ from one run to the next: the record's id, the timings.
TIMINGS = ("ttft_s", "duration_s", "output_tokens_per_s")


@pytest.fixture(scope="module")
def cluster() -> Any:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def server() -> Any:
    with MockServer(MockConfig(output_tokens=TOKENS)) as running:
        yield running


def write_input(path: Path, count: int) -> Path:
    """``count`` requests (every tenth cut by an in-band error after 2 chunks, every tenth
    refused with a 400), plus a line of bad JSON and a duplicate custom_id."""
    lines = []
    for number in range(count):
        body: dict[str, Any] = {
            "model": "m",
            "messages": [{"role": "user", "content": f"request {number}"}],
            "user": f"req-{number}",
        }
        if number % 10 == 3:
            body["mock"] = {"error_after": 2}
        elif number % 10 == 7:
            body["mock"] = {"status": 400}
        lines.append(
            json.dumps({"custom_id": f"req-{number}", "method": "POST", "url": "/v1/chat/completions", "body": body})
        )
    lines.insert(5, "{not json")
    lines.insert(9, json.dumps({"custom_id": "req-1", "body": {"model": "m", "messages": []}}))
    path.write_text("\n".join(lines) + "\n")
    return path


def comparable(output: Path) -> dict[str, Any]:
    """The records of ``output`` by custom_id (or invalid line), without what differs between
    two runs of the same input: record and request ids, creation times, timings."""
    found: dict[str, Any] = {}
    for line in output.read_text().splitlines():
        record = json.loads(line)
        key = record_key(record)
        assert key is not None and key not in found, f"{key} written twice"
        del record["id"]
        for name in TIMINGS:
            record["streamfold"].pop(name, None)
        response = record["response"]
        if response is not None:
            response.pop("request_id")
            if isinstance(response["body"], dict):
                response["body"].pop("created", None)
        found[key] = record
    return found


def sent_users(server: MockServer, since: int) -> list[str]:
    """The ``user`` of every chat request the mock logged after the first ``since``."""
    return [entry.user for entry in list(server.app.requests)[since:] if entry.user is not None]


def test_the_output_equals_the_single_machine_runs(cluster: str, server: MockServer, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 240)
    options = {"base_url": server.base_url, "api_key": "test", "concurrency": 8, "max_retries": 0}
    alone = batch.run(source, tmp_path / "alone.jsonl", **options)
    on_cluster = on_ray.run(source, tmp_path / "ray.jsonl", actors=2, **options)
    expected = comparable(tmp_path / "alone.jsonl")
    assert comparable(tmp_path / "ray.jsonl") == expected
    assert len(expected) == 242  # 240 requests and the 2 invalid lines, each once
    assert on_cluster.outcomes == alone.outcomes
    assert on_cluster.outcomes == {"ok": 192, "stream_error": 24, "http_error": 24, "invalid_request": 2}
    cut = expected["req-3"]
    assert cut["error"]["code"] == "stream_error" and cut["response"]["body"]["choices"][0]["message"]["content"]
    assert (on_cluster.prompt_tokens, on_cluster.completion_tokens) == (alone.prompt_tokens, alone.completion_tokens)


def test_a_run_on_ray_resumes_from_the_output(cluster: str, server: MockServer, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 120)
    first = write_input(tmp_path / "first.jsonl", 50)  # the same first 50 requests, and the invalid lines
    output = tmp_path / "out.jsonl"
    options = {"base_url": server.base_url, "api_key": "test", "concurrency": 6, "max_retries": 0}
    batch.run(first, output, **options)
    before = len(server.app.requests)
    summary = on_ray.run(source, output, actors=2, **options)
    assert summary.skipped == 52 and summary.done == 70
    assert sorted(sent_users(server, before)) == sorted(f"req-{n}" for n in range(50, 120))
    records = comparable(output)  # each key once
    assert set(records) == {f"req-{n}" for n in range(120)} | {"\0line:6", "\0line:10"}
    again = on_ray.run(source, output, actors=1, **options)
    assert (again.done, again.skipped) == (0, 122)


def test_the_limits_are_divided_among_the_actors() -> None:
    assert on_ray.share(600, 4) == 150 and on_ray.share(None, 4) is None
    with pytest.raises(ValueError, match="actors must be >= 1"):
        on_ray.run([], "unused.jsonl", actors=0)
    with pytest.raises(ValueError, match="ordered"):
        on_ray.run([], "unused.jsonl", ordered=True)


def test_the_command_line_runs_on_the_cluster_at_its_address(cluster: str, server: MockServer, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 40)
    output, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    args = ["batch", str(source), "-o", str(output), "--base-url", server.base_url, "--api-key", "test"]
    proc = run(*args, "--max-retries", "0", "--ray", cluster, "--actors", "1", "--summary", str(summary), timeout=180)
    # the in-band errors and the 400s are failures: exit 1, said in one line, all written
    assert "of 42 requests failed" in one_error(proc, 1)
    assert set(comparable(output)) == {f"req-{n}" for n in range(40)} | {"\0line:6", "\0line:10"}
    assert json.loads(summary.read_text())["requests"]["by_outcome"] == {
        "http_error": 4,
        "invalid_request": 2,
        "ok": 32,
        "stream_error": 4,
    }
    said = [line for line in proc.stderr.decode().splitlines() if line.startswith("streamfold: warning: line ")]
    assert [line.split()[3] for line in said] == ["6", "10"]  # each invalid line said, with its number
    refused = run(*args, "--ray", cluster, "--ordered")
    assert one_error(refused, 2) == "--ordered cannot be used with --ray"


def test_without_ray_the_command_says_what_to_install(tmp_path: Path) -> None:
    # a stand-in ``ray`` package that cannot be imported, ahead of the real one on the path
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    source = write_input(tmp_path / "in.jsonl", 1)
    proc = run("batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--ray", env={"PYTHONPATH": str(tmp_path)})
    assert one_error(proc, 2) == '--ray needs Ray: pip install "streamfold[ray]"'
    assert not (tmp_path / "out.jsonl").exists()
