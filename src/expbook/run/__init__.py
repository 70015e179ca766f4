"""Executing runs: the runner, dispatch, sweeps, workers, keys, cache, lock, store, params, provenance, catalogue."""
