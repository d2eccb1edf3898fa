"""Search defaults shared by the library and ``lookalike eval`` (no heavy imports: the CLI
reads them to build its ``--help``)."""

from __future__ import annotations

DBA_K = 2
"""Neighbours of database-side augmentation on the shortlist (0: off); see
:func:`lookalike.search.expand.dba_shortlist`. On by default because it helps on both the dev
bench (mAP 92.45 → 92.96; k = 1, 3, 5 give 92.74, 92.54, 92.50) and a synthetic bench made
from other photos (benchmarks/make_synthetic_bench.py --hard: 92.1 → 96.8), for ~5 ms per
search."""

DBA_ALPHA = 3.0
"""Weight exponent of DBA and query expansion (Radenović et al. use 3)."""

DBA_DEPTH = 50
"""How many of the top matches DBA rescores (each costs one nearest-neighbour query). With
re-ranking, depth 100 / 50 / 30: dev mAP 93.28 / 93.29 / 93.11, synthetic 97.13 / 97.12 / -;
50 halves the cost of 100 (~70 -> ~35 ms per search on a 100k library)."""
