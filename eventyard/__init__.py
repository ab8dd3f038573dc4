"""eventyard: a self-hosted, Segment-compatible customer-event pipeline on Kafka and Faust."""

__version__ = "0.1.0"
