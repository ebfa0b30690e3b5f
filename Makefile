# QuizMarker — `make run` starts everything, `make test` checks everything. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/dev.txt | sha1sum | cut -c1-12)

.PHONY: install run test lint flower bench openapi reliability clean screenshots

$(STAMP): requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "QuizMarker needs Python 3.11 (found %d.%d); set PYTHON=/path/to/python3.11" % sys.version_info[:2])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	$(BIN)/python scripts/devstack.py run

test: install
	$(BIN)/python scripts/devstack.py test $(ARGS)

lint: install
	$(BIN)/ruff check .

flower: install
	$(BIN)/celery -A quizmarker flower --port=$${FLOWER_PORT:-5555} --basic-auth=$${FLOWER_BASIC_AUTH:?set FLOWER_BASIC_AUTH=user:password}

clean:
	rm -rf .data/test-media

screenshots: install  # refresh docs/screenshots/ from the browser tests (a test run only writes test-artifacts/)
	QUIZMARKER_SCREENSHOTS=1 $(BIN)/python scripts/devstack.py test tests/browser -p no:randomly

bench: install
	$(BIN)/python scripts/bench.py $(ARGS)

openapi: install
	$(BIN)/python manage.py spectacular --file docs/openapi.yaml

reliability: install
	$(BIN)/python scripts/devstack.py exec $(BIN)/python scripts/reliability.py $(ARGS)
