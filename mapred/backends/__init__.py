"""Backends: where tasks run.

``base`` defines the interface the driver schedules through; ``processes`` runs tasks
in local worker processes (the default), ``serial`` in the calling process (for pdb, and
as the reference in tests), ``dask`` on a Dask cluster (imported on first use).
"""
