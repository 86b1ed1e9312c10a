"""Fuzzing acd (``make fuzz``): see fuzz/run.py."""
