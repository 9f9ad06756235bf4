"""Benchmarks (not collected by pytest): ``make bench``."""
