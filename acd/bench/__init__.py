"""``acd bench``: a load generator and benchmarks for one acd daemon (see BENCHMARKS.md)."""
