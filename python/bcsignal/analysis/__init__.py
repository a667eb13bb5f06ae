"""Analyses over many runs: parameter robustness and its Dask cluster."""
