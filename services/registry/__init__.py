"""The registry: tracks every agent (spawn, registration, heartbeats, deregistration, loss)."""
