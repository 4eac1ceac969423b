"""Kafka ingest: ``tocsin worker`` (a consumer group running the detection core per
partition, with checkpoints in the database) and the publisher HTTP ingest uses when
``ingest_mode = "kafka"``. kafka-python is imported only in this package."""
