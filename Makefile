PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
BENCH_JSON ?= bench-results/latest.json
BENCH_ARGS ?=
# The bench's baseline is DonkeyCar's own drive loop. --no-deps keeps its heavy extras
# (TensorFlow, ...) out: the loop needs only these.
DONKEYCAR_PACKAGES = donkeycar==5.3.0 pyfiglet prettytable wcwidth pillow

BENCH_MODELS_JSON ?= bench-results/models.json

.PHONY: bench bench-models
bench:
	$(PYTHON) -c "import donkeycar.vehicle" >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --no-deps $(DONKEYCAR_PACKAGES)
	$(PYTHON) -m vehicle bench --json $(BENCH_JSON) $(BENCH_ARGS)

# Preparing DeepRacer exports (per topology), cached loads, and the engines' inference floors.
bench-models:
	$(PYTHON) -m vehicle.bench.models --json $(BENCH_MODELS_JSON)
