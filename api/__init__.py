"""Tocsin's interfaces: the HTTP API (FastAPI) and the ``tocsin`` command line, thin over ``warning``."""
