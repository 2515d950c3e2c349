"""The dispatcher: the background worker that hands outbox messages to the channels."""
