"""The policy: turns commands and monitor snapshots into desired agent counts."""
