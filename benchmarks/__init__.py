"""Measurements of attnlab against torch: `python benchmarks/run.py --out _build/bench` (make bench)."""
