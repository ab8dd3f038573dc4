"""User-defined Python functions: the out-of-process pool and load-time checks."""

from __future__ import annotations

import asyncio
import time

import pytest

from eventyard.config.errors import WorkspaceError
from eventyard.config.loader import load_workspace
from eventyard.transforms.functions import (FunctionLoadError, FunctionPool, UserFunction,
                                            check_function_file)

FUNCTIONS = '''
import sys

def transform(event, ctx):
    kind = event.get("kind")
    if kind == "raise":
        raise ValueError("boom " + ctx["source"])
    if kind == "loop":
        while True:
            pass
    if kind == "garbage":
        return 42
    if kind == "unserializable":
        return {"s": {1, 2}}
    if kind == "drop":
        return None
    if kind == "split":
        return [event, {**event, "copy": True}]
    if kind == "exit":
        sys.exit(3)
    if kind == "allocate":
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))
    print("user output goes to stderr")
    return {**event, "seen_by": ctx["source"]}
'''


@pytest.fixture
def fn(tmp_path) -> UserFunction:
    path = tmp_path / "fns.py"
    path.write_text(FUNCTIONS)
    return UserFunction(str(path), "transform", timeout_seconds=1.0)


async def test_a_function_that_allocates_without_bound_hits_the_memory_cap(tmp_path):
    path = tmp_path / "fns.py"
    path.write_text(FUNCTIONS)
    # zero-filling 1 GiB takes well under a second, but not on a loaded machine: the timeout is not tested here
    patient = UserFunction(str(path), "transform", timeout_seconds=20.0)
    pool = FunctionPool()
    try:
        outcomes = await pool.run(patient, [{"kind": "allocate"}, {"kind": "ok"}], {"source": "web"})
    finally:
        await pool.close()
    assert outcomes[0].error_class == "function_error" and "MemoryError" in outcomes[0].error
    assert outcomes[1].events == [{"kind": "ok", "seen_by": "web"}], "the child survives the cap"


async def test_outcomes_for_every_kind_of_result_in_one_batch(fn):
    pool = FunctionPool()
    try:
        kinds = ["ok", "raise", "garbage", "unserializable", "drop", "split", "exit", "loop", "ok"]
        outcomes = await pool.run(fn, [{"kind": k} for k in kinds], {"source": "web"})
    finally:
        await pool.close()
    assert [o.error_class for o in outcomes] == [
        None, "function_error", "function_bad_result", "function_bad_result", None, None,
        "function_error", "function_timeout", None]
    assert outcomes[0].events == [{"kind": "ok", "seen_by": "web"}]
    assert "ValueError: boom web" in outcomes[1].error and "fns.py" in outcomes[1].error
    assert "returned int" in outcomes[2].error
    assert outcomes[4].events == []
    assert outcomes[5].events == [{"kind": "split"}, {"kind": "split", "copy": True}]
    assert "SystemExit" in outcomes[6].error
    assert "took longer than 1.0 s" in outcomes[7].error
    assert outcomes[8].events == [{"kind": "ok", "seen_by": "web"}], "a fresh process took over"


async def test_a_looping_function_does_not_block_the_event_loop(fn):
    pool = FunctionPool()
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        [outcome] = await pool.run(fn, [{"kind": "loop"}], {"source": "web"})
        elapsed = time.monotonic() - started
    finally:
        task.cancel()
        await pool.close()
    assert outcome.error_class == "function_timeout"
    assert ticks >= 0.5 * elapsed / 0.05, "the event loop kept running while user code looped"


def test_load_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def transform(event, ctx):\n    return (\n")
    with pytest.raises(FunctionLoadError, match=r"bad\.py:2: syntax error"):
        check_function_file(bad)
    one_arg = tmp_path / "one.py"
    one_arg.write_text("x = 1\n\ndef transform(event):\n    return event\n")
    with pytest.raises(FunctionLoadError, match=r"one\.py:3: transform\(\) must take"):
        check_function_file(one_arg)
    with pytest.raises(FunctionLoadError, match=r"one\.py:1: no top-level function 'other'"):
        check_function_file(one_arg, "other")


def test_workspace_check_reports_function_and_plan_files(tmp_path):
    (tmp_path / "fns.py").write_text("def transform(event, ctx:\n")
    (tmp_path / "plan.json").write_text('{"rules": [{"type": "NOPE", "key": "x"}]}')
    (tmp_path / "eventyard.yaml").write_text(
        "sources:\n"
        "  - name: web\n"
        "    write_key: k\n"
        "    tracking_plan: plan.json\n"
        "destinations:\n"
        "  - name: a\n"
        "    type: file\n"
        "    functions:\n"
        "      - file: fns.py\n")
    with pytest.raises(WorkspaceError) as info:
        load_workspace(tmp_path)
    text = str(info.value)
    assert "eventyard.yaml:4: sources[0].tracking_plan:" in text and "plan.json" in text
    assert "eventyard.yaml:9: destinations[0].functions[0].file:" in text
    assert "fns.py:1: syntax error" in text
