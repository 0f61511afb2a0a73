"""``make bench``: every benchmark, one JSON line each.

The client-API benchmark runs Hearth and Synapse (installed on first use in
``.bench/synapse-venv``) on SQLite and PostgreSQL; it takes about a quarter of an hour.
"""

from bench import client_bench, state_res_bench

state_res_bench.main(["--room-version", "10"])
state_res_bench.main(["--room-version", "12"])
client_bench.main([])
