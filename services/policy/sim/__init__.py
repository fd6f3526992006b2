"""The optimize simulator: a pool replayed on a recorded or made-up load (``simulate``), a configuration's run
judged and priced (``trial``, ``metrics``), the load rebuilt from history (``workload``), and the search over
auto settings (``search``), and the verdict on whether prediction pays (``forecast``). Pure like the decision
core it drives: no I/O, no clock, no logging."""
