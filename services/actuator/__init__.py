"""The actuator: owns the agent processes on its host and converges each pool to its desired count."""
