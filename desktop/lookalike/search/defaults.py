"""Search defaults shared by the library and ``lookalike eval`` (no heavy imports: the CLI
reads them to build its ``--help``)."""

from __future__ import annotations

DBA_K = 0
"""Neighbours of database-side augmentation on the shortlist (0: off); see
:func:`lookalike.search.expand.dba_shortlist`."""

DBA_ALPHA = 3.0
"""Weight exponent of DBA and query expansion (Radenović et al. use 3)."""
