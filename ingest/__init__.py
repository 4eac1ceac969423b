"""Ingest: thin sources (HTTP, files, later Kafka) that validate raw input into events.

Sources turn bytes into :class:`warning.events.Event` values or
:class:`warning.events.Rejected` values; nothing here detects or stores.
"""
