"""The agent runtime: the process being scaled. It pulls tasks from its pool's work queue, runs the pool's
handler, stores results, and drains cleanly on SIGTERM."""
