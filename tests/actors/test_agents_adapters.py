"""The agent adapters against fake claude/codex/gemini executables replaying recorded output.

Each fake prints a recording from tests/fixtures/agents line by line with a delay, like the real
CLI would; the tests check the usage, cost and outcome the adapters make of it, and that the
supervisor survives what real CLIs do wrong (hang, crash, garbage, floods, missing binary).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from agentcoord.actors.agents import (
    AgentBinaryNotFoundError,
    AgentOutcome,
    AgentRun,
    EventKind,
    FailureReason,
    build_adapter,
    run_agent,
)
from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDINGS = FIXTURES / "agents"
BIN = FIXTURES / "bin"


def agent(adapter: str, tmp_path: Path, recording: str, **settings: Any) -> AgentConfig:
    env = {"FAKE_RECORDING": str(RECORDINGS / recording), "FAKE_DELAY_MS": "5",
           "FAKE_ARGV_FILE": str(tmp_path / "argv.json"), **settings.pop("env", {})}
    if adapter == "claude":
        settings.setdefault("policy_hook_url", "http://127.0.0.1:9/hooks/claude/pre-tool-use")
    return AgentConfig(
        name=f"{adapter}-test", adapter=adapter, model={"claude": "claude-sonnet-4-5", "codex": "gpt-5-codex",
                                                        "gemini": "gemini-2.5-pro"}[adapter],
        capabilities=("code",), input_price_micro_usd_per_mtok=3_000_000, output_price_micro_usd_per_mtok=15_000_000,
        settings={"binary": str(BIN / adapter), "env": env, **settings},
    )


def a_run(**changes: Any) -> AgentRun:
    fields: dict[str, Any] = {
        "attempt_id": "att-1", "mission_id": "m-1", "task_id": "fix-parser", "attempt_number": 1,
        "goal": "Parser handles empty input", "description": "Fix first_item on an empty list", "capabilities": ("code",),
        "context": ("Lesson: parser tests live in tests/test_parser.py",),
    }
    return AgentRun(**{**fields, **changes})


def argv(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "argv.json").read_text()))


def test_claude_success_takes_cost_usage_turns_and_session_from_the_result_event(tmp_path: Path) -> None:
    config = agent("claude", tmp_path, "claude_success.jsonl", max_turns=12, max_budget_usd="2.50",
                   allowed_tools=["Read", "Edit", "Bash(python -m pytest:*)"], disallowed_tools=["WebFetch"],
                   permission_mode="acceptEdits")
    execution = build_adapter(config).start(a_run(), workdir=tmp_path)
    events = list(execution.events())
    result = execution.result()

    assert result.outcome is AgentOutcome.SUCCEEDED
    assert result.cost_micro_usd == 52_392  # total_cost_usd 0.0523917, not re-priced
    # The result's usage is the run total; per-message usage (repeated per content block) is not added.
    assert (result.input_tokens, result.output_tokens) == (16, 168)
    assert (result.cache_read_tokens, result.cache_write_tokens) == (52_658, 6_673)
    assert (result.num_turns, result.duration_ms) == (5, 14_231)
    assert result.session_id == "5f1d2c3a-8b7e-4f60-9a1b-2c3d4e5f6a7b"
    assert result.summary.startswith("Fixed: `first_item`")
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.SESSION and EventKind.COMMAND in kinds and EventKind.FILE_CHANGE in kinds
    assert any(e.payload.get("command") == "python -m pytest -q tests/test_parser.py" for e in events)
    call = argv(tmp_path)
    args = call["argv"]
    assert args[:5] == ["-p", "--output-format", "stream-json", "--verbose", "--model"]
    assert args[args.index("--max-turns") + 1] == "12" and args[args.index("--max-budget-usd") + 1] == "2.50"
    assert args[args.index("--allowedTools") + 1] == "Read,Edit,Bash(python -m pytest:*)"
    assert args[args.index("--disallowedTools") + 1] == "WebFetch"
    assert args[args.index("--permission-mode") + 1] == "acceptEdits"
    assert "--resume" not in args
    assert "Task: Fix first_item on an empty list" in call["prompt"]
    assert "Mission goal: Parser handles empty input" in call["prompt"]
    assert "Lesson: parser tests live in tests/test_parser.py" in call["prompt"]
    assert call["env"]["AGENTCOORD_TASK_ID"] == "fix-parser"


@pytest.mark.parametrize(
    ("recording", "failure", "cost_micro_usd"),
    [
        ("claude_max_turns.jsonl", FailureReason.TURN_LIMIT, 18_725),
        ("claude_budget.jsonl", FailureReason.BUDGET, 532_500),
        ("claude_execution_error.jsonl", FailureReason.AGENT_ERROR, 11_340),
        ("claude_is_error.jsonl", FailureReason.AGENT_ERROR, 0),  # subtype success, but is_error
    ],
)
def test_claude_error_results_fail_with_their_reason_and_still_bill(
    tmp_path: Path, recording: str, failure: FailureReason, cost_micro_usd: int
) -> None:
    result = run_agent(build_adapter(agent("claude", tmp_path, recording, env={"FAKE_EXIT_CODE": "1"})), a_run(),
                       workdir=tmp_path)
    assert result.outcome is AgentOutcome.FAILED
    assert result.failure is failure
    assert result.cost_micro_usd == cost_micro_usd
    assert result.session_id


def test_claude_resume_passes_the_session_id(tmp_path: Path) -> None:
    run_agent(build_adapter(agent("claude", tmp_path, "claude_success.jsonl")), a_run(resume_session_id="5f1d2c3a"),
              workdir=tmp_path)
    args = argv(tmp_path)["argv"]
    assert args[args.index("--resume") + 1] == "5f1d2c3a"


def test_claude_needs_a_policy_hook_endpoint() -> None:
    config = AgentConfig(name="c", adapter="claude", model="m", capabilities=(), input_price_micro_usd_per_mtok=0,
                         output_price_micro_usd_per_mtok=0, settings={})
    with pytest.raises(InvalidInputError) as error:
        build_adapter(config)
    assert error.value.field == "c.settings.policy_hook_url"


def test_codex_success_prices_tokens_and_ignores_reconnects(tmp_path: Path) -> None:
    # Success is decided by the final turn.completed, whatever the exit code.
    config = agent("codex", tmp_path, "codex_success.jsonl", env={"FAKE_EXIT_CODE": "1"})
    execution = build_adapter(config).start(a_run(), workdir=tmp_path)
    events = list(execution.events())
    result = execution.result()

    assert result.outcome is AgentOutcome.SUCCEEDED
    assert (result.input_tokens, result.cache_read_tokens, result.output_tokens) == (4_411, 20_352, 1_244)
    # 24 763 input tokens (cached included) at $3/M + 1 244 output at $15/M
    assert result.cost_micro_usd == (24_763 * 3_000_000 + 1_244 * 15_000_000 + 500_000) // 1_000_000
    assert result.session_id == "0199a213-81c0-7800-8aa1-bbab2a035a53"
    assert result.files_changed == ("src/parser.py", "tests/test_parser_empty.py")
    assert result.summary.startswith("Fixed the empty-list case")
    commands = [e.payload for e in events if e.kind is EventKind.COMMAND and "exit_code" in e.payload]
    assert [c["exit_code"] for c in commands] == [1, 0]
    assert [e.payload["recoverable"] for e in events if e.kind is EventKind.ERROR] == [True]
    assert any(e.kind is EventKind.TOOL_CALL and e.payload["tool"] == "search_issues" for e in events)
    args = argv(tmp_path)["argv"]
    assert args[:2] == ["exec", "--json"] and args[-1] == "-"


def test_codex_turn_failed_is_a_failure_even_with_exit_code_zero(tmp_path: Path) -> None:
    result = run_agent(build_adapter(agent("codex", tmp_path, "codex_turn_failed.jsonl")), a_run(), workdir=tmp_path)
    assert result.outcome is AgentOutcome.FAILED
    assert result.failure is FailureReason.AGENT_ERROR
    assert "idle timeout waiting for SSE" in result.error


def test_codex_resume_uses_exec_resume(tmp_path: Path) -> None:
    run_agent(build_adapter(agent("codex", tmp_path, "codex_success.jsonl")), a_run(resume_session_id="0199a213"),
              workdir=tmp_path)
    args = argv(tmp_path)["argv"]
    assert args[args.index("resume") + 1] == "0199a213"


def test_gemini_success_sums_models_and_reports_tools_and_files(tmp_path: Path) -> None:
    execution = build_adapter(agent("gemini", tmp_path, "gemini_success.json", approval_mode="auto_edit")).start(
        a_run(), workdir=tmp_path
    )
    events = list(execution.events())
    result = execution.result()

    assert result.outcome is AgentOutcome.SUCCEEDED
    # prompt includes cached; candidates + thoughts are output
    assert (result.input_tokens, result.cache_read_tokens, result.output_tokens) == (4_876, 21_263, 596)
    assert result.cost_micro_usd == ((24_939 + 1_200) * 3_000_000 + 596 * 15_000_000 + 500_000) // 1_000_000
    assert result.session_id == "b7c1d2e3-f405-4a6b-9c7d-8e9fa0b1c2d3"
    assert {e.payload["tool"]: e.payload["count"] for e in events if e.kind is EventKind.TOOL_CALL} == {
        "run_shell_command": 2, "replace": 1}
    assert [e.payload["lines_added"] for e in events if e.kind is EventKind.FILE_CHANGE] == [14]
    args = argv(tmp_path)["argv"]
    assert args[args.index("--output-format") + 1] == "json" and "-p" in args
    assert args[args.index("--approval-mode") + 1] == "auto_edit"


@pytest.mark.parametrize(
    ("recording", "exit_code", "failure"),
    [
        ("gemini_turn_limit.json", "53", FailureReason.TURN_LIMIT),
        ("gemini_auth_error.json", "41", FailureReason.AUTH),
        ("gemini_auth_error.json", "42", FailureReason.BAD_INPUT),
        ("gemini_auth_error.json", "52", FailureReason.CONFIG),
        ("gemini_auth_error.json", "54", FailureReason.TOOL_ERROR),
        ("gemini_auth_error.json", "130", FailureReason.INTERRUPTED),
    ],
)
def test_gemini_exit_codes_map_to_failure_reasons(
    tmp_path: Path, recording: str, exit_code: str, failure: FailureReason
) -> None:
    config = agent("gemini", tmp_path, recording, env={"FAKE_EXIT_CODE": exit_code})
    result = run_agent(build_adapter(config), a_run(), workdir=tmp_path)
    assert result.outcome is AgentOutcome.FAILED
    assert result.failure is failure
    assert "gemini failed" in result.error


def test_gemini_turn_limit_still_prices_the_tokens(tmp_path: Path) -> None:
    config = agent("gemini", tmp_path, "gemini_turn_limit.json", env={"FAKE_EXIT_CODE": "53"})
    result = run_agent(build_adapter(config), a_run(), workdir=tmp_path)
    assert result.cost_micro_usd == (812_000 * 3_000_000 + 11_400 * 15_000_000 + 500_000) // 1_000_000


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    config = agent("codex", tmp_path, "codex_success.jsonl", timeout_s=4,
                   env={"FAKE_HANG": "1", "FAKE_PID_FILE": str(pid_file), "FAKE_STOP_AFTER_LINES": "3"})
    started = time.monotonic()
    result = run_agent(build_adapter(config), a_run(), workdir=tmp_path)
    assert result.outcome is AgentOutcome.FAILED and result.failure is FailureReason.TIMEOUT
    assert time.monotonic() - started < 60  # the fake would hang for 300 s
    _assert_all_dead(pid_file)


def test_cancel_from_another_thread_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    config = agent("claude", tmp_path, "claude_success.jsonl",
                   env={"FAKE_HANG": "1", "FAKE_PID_FILE": str(pid_file), "FAKE_STOP_AFTER_LINES": "2"})
    execution = build_adapter(config).start(a_run(), workdir=tmp_path)
    seen: list[EventKind] = []

    def cancel_when_hanging() -> None:
        _wait_for(pid_file.exists)
        execution.cancel()

    canceller = threading.Thread(target=cancel_when_hanging)
    canceller.start()
    seen += [e.kind for e in execution.events()]
    canceller.join()
    result = execution.result()
    assert result.outcome is AgentOutcome.FAILED and result.failure is FailureReason.CANCELLED
    assert result.session_id == "5f1d2c3a-8b7e-4f60-9a1b-2c3d4e5f6a7b"  # reported before the hang: resumable
    assert EventKind.SESSION in seen
    _assert_all_dead(pid_file)


def test_token_ceiling_stops_the_run(tmp_path: Path) -> None:
    config = agent("claude", tmp_path, "claude_success.jsonl", max_tokens=10_000)
    result = run_agent(build_adapter(config), a_run(), workdir=tmp_path)
    assert result.outcome is AgentOutcome.FAILED and result.failure is FailureReason.CEILING


def test_cost_ceiling_stops_a_run_priced_from_tokens(tmp_path: Path) -> None:
    config = agent("codex", tmp_path, "codex_success.jsonl", max_cost_usd="0.01")
    result = run_agent(build_adapter(config), a_run(), workdir=tmp_path)
    assert result.outcome is AgentOutcome.FAILED and result.failure is FailureReason.CEILING


def test_crash_without_result_reports_exit_code_and_stderr(tmp_path: Path) -> None:
    config = agent("claude", tmp_path, "claude_success.jsonl",
                   env={"FAKE_STOP_AFTER_LINES": "3", "FAKE_EXIT_CODE": "137"})
    result = run_agent(build_adapter(config), a_run(), workdir=tmp_path)
    assert result.outcome is AgentOutcome.FAILED and result.failure is FailureReason.CRASH
    assert "exited with code 137" in result.error
    assert result.session_id == "5f1d2c3a-8b7e-4f60-9a1b-2c3d4e5f6a7b"


def test_malformed_lines_mid_stream_are_skipped_and_counted(tmp_path: Path) -> None:
    config = agent("claude", tmp_path, "claude_success.jsonl", env={"FAKE_GARBAGE_AT": "4"})
    result = run_agent(build_adapter(config), a_run(), workdir=tmp_path)
    assert result.outcome is AgentOutcome.SUCCEEDED
    assert result.skipped_lines == 2  # one garbage line, one truncated JSON object
    assert result.cost_micro_usd == 52_392


def test_truncated_output_without_result_fails_as_no_result(tmp_path: Path) -> None:
    # the last line (turn.completed) arrives only half written, then the stream ends with exit code 0
    recording = (RECORDINGS / "codex_success.jsonl").read_text().splitlines()
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("\n".join([*recording[:-1], recording[-1][:30]]) + "\n")
    config = agent("codex", tmp_path, str(truncated))
    result = run_agent(build_adapter(config), a_run(), workdir=tmp_path)
    assert result.outcome is AgentOutcome.FAILED and result.failure is FailureReason.NO_RESULT
    assert result.skipped_lines == 1


def test_100_mb_of_output_streams_in_bounded_memory(tmp_path: Path) -> None:
    config = agent("claude", tmp_path, "claude_success.jsonl",
                   env={"FAKE_BULK_MB": "100", "FAKE_HUGE_LINE_MB": "20", "FAKE_DELAY_MS": "0"})
    tracemalloc.start()
    try:
        execution = build_adapter(config).start(a_run(), workdir=tmp_path)
        count = sum(1 for _ in execution.events())
        result = execution.result()
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome is AgentOutcome.SUCCEEDED
    assert count > 1600  # every 64 KB tool result became an event, each cut to a bounded size
    assert result.skipped_lines == 1  # the 20 MB line is dropped without being held
    assert peak_bytes < 24 * 1024 * 1024, f"peak {peak_bytes / 1e6:.1f} MB for 120 MB of output"


def test_missing_binary_names_the_binary_and_the_config_key(tmp_path: Path) -> None:
    config = agent("gemini", tmp_path, "gemini_success.json", binary="/opt/nowhere/gemini")
    with pytest.raises(AgentBinaryNotFoundError) as error:
        build_adapter(config).start(a_run(), workdir=tmp_path)
    assert "/opt/nowhere/gemini" in str(error.value)
    assert error.value.field == "gemini-test.settings.binary"


def test_secrets_in_env_and_output_are_redacted(tmp_path: Path) -> None:
    secret = "s3cr3t-value-that-leaks"
    recording = tmp_path / "leaky.jsonl"
    lines = (RECORDINGS / "codex_success.jsonl").read_text().splitlines()
    leak = {"type": "item.completed", "item": {"id": "item_9", "type": "command_execution", "command": "env",
                                               "aggregated_output": f"MY_API_KEY={secret}\nAuthorization: Bearer sk-abcdefghijklmnop1234567890",
                                               "exit_code": 0, "status": "completed"}}
    recording.write_text("\n".join([*lines[:-1], json.dumps(leak), lines[-1]]) + "\n")
    config = agent("codex", tmp_path, str(recording), env={"MY_API_KEY": secret})
    execution = build_adapter(config).start(a_run(), workdir=tmp_path)
    stored = json.dumps([e.payload for e in execution.events()])
    assert secret not in stored and "sk-abcdefghijklmnop" not in stored
    assert "[REDACTED]" in stored


def test_sim_is_deterministic_and_fails_by_capability_rate() -> None:
    config = AgentConfig(name="sim", adapter="sim", model="sim-small", capabilities=("code", "db"),
                         input_price_micro_usd_per_mtok=800_000, output_price_micro_usd_per_mtok=4_000_000,
                         settings={"latency_ms": 0, "failure_rates": {"db": 1.0}})
    adapter = build_adapter(config)
    first, second = run_agent(adapter, a_run()), run_agent(adapter, a_run())
    assert dataclasses.replace(first, duration_ms=0) == dataclasses.replace(second, duration_ms=0)
    assert first.outcome is AgentOutcome.SUCCEEDED
    assert run_agent(adapter, a_run(capabilities=("db",))).outcome is AgentOutcome.FAILED


def test_sim_rejection_rates_give_seeded_verdicts_per_capability() -> None:
    config = AgentConfig(name="sim", adapter="sim", model="sim-small", capabilities=("code", "docs"),
                         input_price_micro_usd_per_mtok=800_000, output_price_micro_usd_per_mtok=4_000_000,
                         settings={"latency_ms": 0, "rejection_rates": {"code": 0.4, "docs": 0.0}})
    adapter = build_adapter(config)

    def verdicts(capabilities: tuple[str, ...]) -> list[str]:
        return [run_agent(adapter, a_run(task_id=f"t{i}", capabilities=capabilities)).simulated_verdict
                for i in range(300)]

    code = verdicts(("code",))
    assert code == verdicts(("code",))  # seeded: the same runs get the same verdicts
    assert set(code) == {"accepted", "rejected"} and 0.3 < code.count("rejected") / len(code) < 0.5
    assert set(verdicts(("docs",))) == {"accepted"}
    assert set(verdicts(("code", "docs"))) == {"accepted", "rejected"}  # the harder capability decides
    silent = AgentConfig(name="sim", adapter="sim", model="sim-small", capabilities=("code",),
                         input_price_micro_usd_per_mtok=1, output_price_micro_usd_per_mtok=1, settings={"latency_ms": 0})
    assert run_agent(build_adapter(silent), a_run()).simulated_verdict == ""  # no rates: people review, if anyone


def test_sim_rejects_rates_that_are_not_probabilities() -> None:
    config = AgentConfig(name="sim-x", adapter="sim", model="m", capabilities=("code",),
                         input_price_micro_usd_per_mtok=1, output_price_micro_usd_per_mtok=1,
                         settings={"rejection_rates": {"code": 1.5}})
    with pytest.raises(InvalidInputError, match=r"sim-x\.settings\.rejection_rates"):
        build_adapter(config)


def _wait_for(condition: Any, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _assert_all_dead(pid_file: Path) -> None:
    pids = [int(p) for p in pid_file.read_text().split()]

    def gone() -> bool:
        for pid in pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            with open(f"/proc/{pid}/stat") as stat:  # a zombie counts as dead
                if stat.read().split(") ")[1].startswith("Z"):
                    continue
            return False
        return True

    _wait_for(gone)
