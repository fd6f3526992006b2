"""NATS helpers: connecting, requests and replies, events, JetStream resources. Spans and log context are
bound here, where messages enter and leave, not in service code."""
