"""Runnable example workflows: each folder holds a definition, its handlers, an input and a test."""
