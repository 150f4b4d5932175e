"""mapred: exact, deterministic map/reduce over local processes or a Dask cluster."""

__version__ = "0.1.0"
