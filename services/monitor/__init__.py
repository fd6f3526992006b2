"""The monitor: samples host resources, queue depths and task figures, and publishes snapshots."""
