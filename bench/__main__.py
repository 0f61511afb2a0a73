"""``make bench``: every benchmark, one JSON line each."""

from bench import state_res_bench

state_res_bench.main(["--room-version", "10"])
state_res_bench.main(["--room-version", "12"])
