"""Example task handlers shipped with agentscaler."""
