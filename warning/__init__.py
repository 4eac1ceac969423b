"""Tocsin's domain core: events, buckets, alerts, the pipeline that joins them, settings and storage.

The data path reads ingest -> detect -> alert -> notify. Everything in this package except
``storage`` is plain synchronous code with no I/O, so replay, HTTP and Kafka share it.
"""
