"""``vehicle bench``: how close the whole loop comes to bare inference, and to DonkeyCar's.

``runner.run_bench`` measures every configuration (ours, ours with console viewers,
DonkeyCar's loop) in one run, each in a fresh process, and returns the JSON report.
"""

from vehicle.bench.runner import BenchOptions, run_bench
from vehicle.bench.stats import BenchError

__all__ = ["BenchError", "BenchOptions", "run_bench"]
