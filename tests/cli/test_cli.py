"""The `haitang` command as an operator uses it: real processes, real exit codes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HAITANG = str(Path(sys.executable).with_name("haitang"))
EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HAITANG_")}
    return subprocess.run(
        [HAITANG, *args],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_help_is_bilingual_and_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for word in ("run", "sandbox", "db", "seed-demo", "users", "nlp", "海棠先锋", "Haitang"):
        assert word in result.stdout
    users = run("users", "add", "--help")
    assert "--role" in users.stdout and "--telegram-id" in users.stdout
    assert "第一位社区工作人员" in users.stdout and "first coordinator" in users.stdout


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_run_without_a_valid_token_exits_2_with_one_line(tmp_path: Path, token: str | None) -> None:
    env = {"HAITANG_BOT_TOKEN": token} if token else {}
    result = run("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "HAITANG_BOT_TOKEN" in lines[0] and "令牌" in lines[0] and "token" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_database_commands_and_users_add(tmp_path: Path) -> None:
    env = {"HAITANG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"}
    assert run("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    seeded = run("seed-demo", env=env, cwd=tmp_path)
    assert seeded.returncode == 0 and "住户 households 120" in seeded.stdout
    again = run("seed-demo", env=env, cwd=tmp_path)
    assert "本次新增 created now: 0" in again.stdout
    added = run(
        "users",
        "add",
        "--role",
        "coordinator",
        "--telegram-id",
        "777",
        "--community",
        "钮家巷社区",
        "--name",
        "孙书记",
        env=env,
        cwd=tmp_path,
    )
    assert added.returncode == 0 and "孙书记 (777) → coordinator" in added.stdout
    refused = run(
        "users",
        "add",
        "--role",
        "coordinator",
        "--telegram-id",
        "778",
        "--community",
        "不存在社区",
        env=env,
        cwd=tmp_path,
    )
    assert refused.returncode == 2
    assert "没有找到这个社区" in refused.stderr and "Traceback" not in refused.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_headless_sandbox_is_driven_by_scripts_using_only_its_api(tmp_path: Path) -> None:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HAITANG_")}
    command = [
        HAITANG,
        "sandbox",
        "--headless",
        "--port",
        str(port),
        "--db",
        str(tmp_path / "s.db"),
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean, cwd=tmp_path
    ) as process:
        try:
            assert process.stdout is not None
            started = time.monotonic()
            first = process.stdout.readline().strip()
            assert first == f"sandbox ready http://127.0.0.1:{port}", first
            assert time.monotonic() - started < 60
            base = f"http://127.0.0.1:{port}"
            for script, args in (("onboard.py", [base, "9001"]), ("closed_loop.py", [base])):
                done = subprocess.run(
                    [sys.executable, str(EXAMPLES / script), *args],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert done.returncode == 0, done.stderr + done.stdout
                assert done.stdout.startswith("onboarded 9001" if script == "onboard.py" else "GS")
        finally:
            process.send_signal(signal.SIGINT)
            _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
