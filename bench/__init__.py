"""Benchmarks and load tools: raw model, gateway, Triton, stages; fuzzing and soak runs."""
