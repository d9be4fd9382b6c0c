PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
BENCH_JSON ?= bench-results/latest.json
BENCH_ARGS ?=
# The bench's baseline is DonkeyCar's own drive loop. --no-deps keeps its heavy extras
# (TensorFlow, ...) out: the loop needs only these.
DONKEYCAR_PACKAGES = donkeycar==5.3.0 pyfiglet prettytable wcwidth pillow

BENCH_MODELS_JSON ?= bench-results/models.json

BENCH_ENGINES_JSON ?= bench-results/engines.json
# A Python with TensorFlow for the .tflite files (empty: this one, if it has TensorFlow).
TF_PYTHON ?=

.PHONY: bench bench-models bench-engines
bench:
	$(PYTHON) -c "import donkeycar.vehicle" >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --no-deps $(DONKEYCAR_PACKAGES)
	$(PYTHON) -m vehicle bench --json $(BENCH_JSON) $(BENCH_ARGS)

# Preparing DeepRacer exports (per topology), cached loads, and the engines' inference floors.
bench-models:
	$(PYTHON) -m vehicle.bench.models --json $(BENCH_MODELS_JSON)

# Every engine's inference floor, at each precision and 1 and 2 threads, on DeepRacer's
# shallow graph, against the stock (OpenVINO) and community (TFLite XNNPACK) cars' engines.
bench-engines:
	$(PYTHON) -m vehicle bench --engines --json $(BENCH_ENGINES_JSON) \
		$(if $(TF_PYTHON),--tf-python $(TF_PYTHON)) $(BENCH_ARGS)
