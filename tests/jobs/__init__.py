"""Tiny job modules shared by the CLI and end-to-end tests (``mapred run MODULE:FUNCTION``)."""
