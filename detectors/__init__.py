"""Detectors: online models that turn closed buckets of one series into findings.

Every detector follows the contract in :mod:`detectors.base` and registers its kind in
:mod:`detectors.registry`; the pipeline never imports a detector module directly.
"""
