"""What every agentscaler service and client shares: message types, subject names, the NATS bus helpers,
settings, telemetry and the process supervisor. Nothing here imports a service."""
