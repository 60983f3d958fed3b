"""The throughput benchmark runs and ends with its JSON line (a smoke test, not a timing)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from nlp.classifier import Classifier

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "nlp_throughput.py"


def test_benchmark_prints_json_last(
    classifier: Classifier, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("nlp_throughput", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--messages", "600", "--rounds", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any("messages/s" in line for line in lines)
    data = json.loads(lines[-1])
    assert set(data) == {"classify_msgs_per_s", "jieba_msgs_per_s", "ratio", "rss_mb"}
    assert data["classify_msgs_per_s"] > 0 and data["jieba_msgs_per_s"] > 0
    assert 0 < data["rss_mb"] < 1000
