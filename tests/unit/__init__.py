"""Unit tier: pure tables and Hypothesis properties. No NATS, no subprocesses, no wall clock."""
