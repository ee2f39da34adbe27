"""Commands that print the daemon's measured figures: ``python -m specialist.benchmarks.<name>``
with name throughput, progress, forgetting or feeds."""
