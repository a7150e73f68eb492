"""Streaming data pipeline: validate a batch of stream records, process and normalise each, publish."""
