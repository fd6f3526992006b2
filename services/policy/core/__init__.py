"""The pure decision core: no I/O, no clock, no logging. Time and state come in; decisions go out."""
