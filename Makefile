# The two commands: `make run` (install and serve) and `make test` (the whole suite).
.PHONY: run test bench install

run:
	scripts/up.sh

test:
	scripts/test.sh

install:
	scripts/bootstrap.sh

bench:
	scripts/bootstrap.sh
	.venv/bin/python -m bench
