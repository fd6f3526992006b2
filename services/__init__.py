"""The agentscaler services (monitor, policy, actuator, registry), the agent runtime and the CLI.

Services never import each other: they meet only on NATS subjects (see ``agentscaler.shared.subjects``).
"""
