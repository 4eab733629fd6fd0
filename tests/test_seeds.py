"""The seed report's bookkeeping: claims, bounds, margins and the summary per claim."""

from __future__ import annotations

import json
import types

import pytest

from benchmarks import seeds
from benchmarks.claims import CHAPTERS, Claim, load


def test_a_claim_holds_inside_its_bounds_and_reports_its_margin():
    at_least = Claim("a", "accuracy at least 95 %", low=0.95)
    between = Claim("b", "between", low=0.6, high=0.9)
    at_most = Claim("c", "at chance", high=0.2)
    assert at_least.holds(0.95) and not at_least.holds(0.949)
    assert between.holds(0.75) and not between.holds(0.91) and not between.holds(0.59)
    assert at_most.holds(0.1) and not at_most.holds(0.3)
    assert at_least.margin(1.0) == pytest.approx(0.05) and at_least.margin(0.9) == pytest.approx(-0.05)
    assert between.margin(0.85) == pytest.approx(0.05)
    assert (at_least.bound(), between.bound(), at_most.bound()) == ("≥ 0.95", "0.6 ≤ x ≤ 0.9", "≤ 0.2")


def test_summary_counts_the_runs_a_claim_held_for(monkeypatch):
    fake = types.SimpleNamespace(CLAIMS=(Claim("acc", "accurate", low=0.9), Claim("blind", "blind", high=0.3)))
    monkeypatch.setattr(seeds, "load", lambda chapter: fake)
    rows = [
        {"chapter": "ch9", "seed": s, "kernel": "native", "values": {"acc": a, "blind": b}}
        for s, (a, b) in enumerate([(0.99, 0.1), (0.95, 0.2), (0.85, 0.25)])
    ]
    rows.append({"chapter": "ch9", "seed": 3, "kernel": "native", "error": "RuntimeError: boom"})
    acc, blind = seeds.summarise(rows)
    assert (acc["held"], acc["runs"], acc["min"], acc["median"], acc["max"]) == (2, 4, 0.85, 0.95, 0.99)
    assert acc["margin"] == pytest.approx(-0.05)
    assert (blind["held"], blind["runs"]) == (3, 4)  # a run that failed counts against every claim
    md = seeds.markdown([acc, blind], rows, [0, 1, 2, 3], ["native"])
    assert "| `acc` | accurate | ≥ 0.9 | 2/4 | 0.85 | 0.95 | 0.99 | -0.05 |" in md
    assert "ch9 seed 3 (native): RuntimeError: boom" in md


def test_every_chapter_names_its_claims_once_each_with_a_bound():
    ids = []
    for chapter in CHAPTERS:
        module = load(chapter)
        assert callable(module.measure) and module.CLAIMS, chapter
        for claim in module.CLAIMS:
            assert claim.low is not None or claim.high is not None, claim.id
            assert claim.text, claim.id
            ids.append(claim.id)
    assert len(ids) == len(set(ids))


def test_unknown_chapter_is_named():
    with pytest.raises(ValueError, match=r"unknown chapter 'ch0'; expected one of intro, ch1"):
        load("ch0")


def test_merge_combines_runs_made_apart(tmp_path, monkeypatch):
    fake = types.SimpleNamespace(CLAIMS=(Claim("acc", "accurate", low=0.9),))
    monkeypatch.setattr(seeds, "load", lambda chapter: fake)
    for name, seed in (("a", 0), ("b", 1)):
        run = {"chapter": "ch1", "seed": seed, "kernel": "native", "values": {"acc": 0.95 + seed / 100}, "seconds": 1}
        (tmp_path / f"{name}.json").write_text(json.dumps({"runs": [run]}))
    out = tmp_path / "out"
    assert seeds.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(out)]) == 0
    record = json.loads((out / "seeds.json").read_text())
    assert record["seeds"] == [0, 1] and record["summary"][0]["held"] == 2 and record["summary"][0]["runs"] == 2
    assert "| `acc` | accurate | ≥ 0.9 | 2/2 | 0.95 | 0.955 | 0.96 |" in (out / "seeds.md").read_text()
