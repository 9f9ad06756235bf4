"""Per-stream call counts for the benchmark of all streams (fewest possible, naive, and what a run makes)."""
