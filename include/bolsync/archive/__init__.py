"""The raw archive: every data response an extract receives, per run, and the replay of archived runs."""
