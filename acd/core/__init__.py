"""The routing core's vocabulary and rules: pure data and functions, no I/O, no clock."""
