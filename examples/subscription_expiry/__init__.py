"""Subscription expiry: disable resources and notify the customer in parallel, then emit an event."""
