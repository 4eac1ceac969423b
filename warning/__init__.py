"""Tocsin's domain core: events, buckets, alerts, the pipeline that joins them, the response
workflow and its clock, settings and storage.

The data path reads ingest -> detect -> alert -> notify. Everything in this package except
``storage``, ``notify`` (the notification log) and the operators' services in ``response``
is plain synchronous code with no I/O, so replay, HTTP and Kafka share it.
"""
