"""Image sets of other kinds for the benchmarks (`python -m benchmarks.datasets.<name> FILE`)."""
