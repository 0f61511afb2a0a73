# The two commands: `make run` (install and serve) and `make test` (the whole suite).
.PHONY: run test bench install webclient

run:
	scripts/up.sh

test:
	scripts/test.sh

install:
	scripts/bootstrap.sh

# Build the web client into webclient/dist (needs Node.js 20.19+; installed from Debian when absent).
webclient:
	scripts/build-webclient.sh --force

bench:
	scripts/bootstrap.sh
	.venv/bin/python -m bench
