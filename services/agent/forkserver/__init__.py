"""The fork server ("zygote") of a pool: one preloaded, single-threaded process that forks agents on request.

Starting an agent as a fresh interpreter costs ~100 ms of CPU and ~15 MB of private memory; forking it from a
process that already imported the runtime and the handler costs about a millisecond and shares those pages.
"""
