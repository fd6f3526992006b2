"""The ``agentscaler`` command line: a NATS client of the services, and the launcher that runs them."""
