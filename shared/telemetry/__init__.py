"""Logging (structlog) and tracing (OpenTelemetry) set-up, and the trace context carried in NATS headers."""
