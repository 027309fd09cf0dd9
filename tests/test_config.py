"""Quick mode and result reporting (the scoreboard reads what report() writes)."""

import json

import numpy as np
import pytest
import torch

import d2lutils


@pytest.mark.parametrize("value, quick", [
    ("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("no", False),
])
def test_quick_mode(monkeypatch, value, quick):
    monkeypatch.setenv("D2L_QUICK", value)
    assert d2lutils.is_quick() is quick
    assert d2lutils.quick(10, 1) == (1 if quick else 10)


def test_quick_mode_unset(monkeypatch):
    monkeypatch.delenv("D2L_QUICK", raising=False)
    assert not d2lutils.is_quick() and d2lutils.quick("full", "small") == "full"


def test_report_prints_and_writes_json_lines(monkeypatch, tmp_path, capsys):
    target = tmp_path / "out" / "metrics.jsonl"
    monkeypatch.setenv("D2L_REPORT", str(target))
    monkeypatch.setenv("D2L_QUICK", "1")
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    values = d2lutils.report(test_acc=torch.tensor(0.8512), w_error=np.float32(2.5e-5))
    assert values == {"test_acc": pytest.approx(0.8512), "w_error": pytest.approx(2.5e-5)}
    out = capsys.readouterr().out
    assert "test_acc: 0.8512" in out and "w_error: 2.5e-05" in out
    d2lutils.report(lstm_val_ppl=7)
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(records) == 2
    assert records[0]["metrics"]["test_acc"] == pytest.approx(0.8512)
    assert records[0]["device"] == "cpu" and records[0]["quick"] is True
    assert records[1]["metrics"] == {"lstm_val_ppl": 7.0}


def test_report_without_target_writes_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("D2L_REPORT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert d2lutils.report(b_error=0.5) == {"b_error": 0.5}
    assert "b_error: 0.5000" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_report_accepts_one_element_arrays_and_tensors(monkeypatch):
    monkeypatch.delenv("D2L_REPORT", raising=False)
    values = d2lutils.report(a=np.array([0.25]), b=torch.tensor([[0.5]]), c=np.float64(1.5))
    assert values == {"a": 0.25, "b": 0.5, "c": 1.5}


def test_report_rejects_non_numbers():
    with pytest.raises(TypeError, match="'test_acc' must be a number"):
        d2lutils.report(test_acc=[0.1, 0.2])
    with pytest.raises(TypeError, match="one-element"):
        d2lutils.report(test_acc=torch.ones(3))
    with pytest.raises(TypeError, match="one-element"):
        d2lutils.report(test_acc=np.ones(2))
