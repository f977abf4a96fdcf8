# deepmotif: a thin wrapper around CMake. `make test` and `make demo` install what is missing first
# (scripts/setup.sh, Debian packages), so on a fresh Debian machine these two commands are all it takes.
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
DEMO    ?= $(BUILD)/demo
SEED    ?= 1

.PHONY: all setup configure test demo bench clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

setup:
	@sh scripts/setup.sh

configure:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

test: setup all
	cd $(BUILD) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure

# The main job on the bundled default: a simulated data set with planted motifs (no real data ships
# with the repository), a CNN trained on it with the default protocol, and its test AUROC.
demo: setup all
	@mkdir -p $(DEMO)
	$(BUILD)/deepmotif simulate --out $(DEMO)/train.seq.gz --n 5000 --seed $(SEED)
	$(BUILD)/deepmotif simulate --out $(DEMO)/test.seq.gz --n 500 --seed 1$(SEED)
	$(BUILD)/deepmotif train --arch cnn --train $(DEMO)/train.seq.gz --test $(DEMO)/test.seq.gz \
	    --epochs 10 --seed $(SEED) --out $(DEMO)/cnn.dm
	$(BUILD)/deepmotif eval --model $(DEMO)/cnn.dm --data $(DEMO)/test.seq.gz

# Speed of a training step per architecture (bench/README.md); the accuracy benchmark on the shared
# DeepBind data is bench/deepbind_accuracy.sh.
bench: all
	OPENBLAS_NUM_THREADS=1 $(BUILD)/bench/bench_train

clean:
	rm -rf $(BUILD)
