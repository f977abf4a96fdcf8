# deepmotif: a thin wrapper around CMake. `make test` and `make demo` install what is missing first
# (scripts/setup.sh, Debian packages), so on a fresh Debian machine these two commands are all it takes.
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
DEMO    ?= $(BUILD)/demo
SEED    ?= 1
# The CUDA emulator builds (CUDA-EMULATION.md): plain, ThreadSanitizer, AddressSanitizer + UBSan.
EMU     ?= build-emu
EMU_TSAN ?= build-emu-tsan
EMU_ASAN ?= build-emu-asan
EMU_TESTS = test_(emu|backend_ops|cuda_.*)
EMU_FLAGS = -DCMAKE_BUILD_TYPE=Release -DDM_CUDA_EMU=ON -DDM_BUILD_BENCH=OFF
# Every CPU and host test under AddressSanitizer + UBSan (CPU backend only, small shapes).
ASAN    ?= build-asan
ASAN_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDM_CUDA=OFF -DDM_BUILD_BENCH=OFF \
             -DDM_SANITIZE_ADDRESS=ON -DDM_SANITIZE_UNDEFINED=ON
# The libFuzzer targets of tests/fuzz: clang, AddressSanitizer + UBSan, coverage-instrumented library.
FUZZ    ?= build-fuzz
FUZZ_SECONDS ?= 300
FUZZ_TEST_SECONDS ?= 30
FUZZ_FLAGS = -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDM_CUDA=OFF -DDM_BUILD_BENCH=OFF \
             -DDM_FUZZ=ON -DDM_SANITIZE_ADDRESS=ON -DDM_SANITIZE_UNDEFINED=ON
# After a build's ctest: the test binaries where some tests skipped ("dm-skipped:" lines; a binary
# whose tests all skipped is already listed by ctest as Skipped).
show_skips = @s=$$(grep -h '^dm-skipped:' $(1)/Testing/Temporary/LastTest.log 2>/dev/null); \
	if [ -n "$$s" ]; then echo "$(1): tests that skipped:"; echo "$$s" | sed 's/^dm-skipped: /  /'; fi

.PHONY: all setup configure test demo bench clean emu emu-test sanitize-test fuzz fuzz-build fuzz-test

all: configure
	cmake --build $(BUILD) -j $(JOBS)

setup:
	@sh scripts/setup.sh

configure:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

# The CPU and CUDA builds' tests (the CUDA backend compiled by nvcc when it is installed; its GPU tests
# skip without a device), then the CUDA backend's tests on the emulator in every thread order, under
# ThreadSanitizer, and under AddressSanitizer + UBSan; every CPU and host test under AddressSanitizer
# + UBSan; and each fuzz target for FUZZ_TEST_SECONDS (any crash fails).
test: setup all
	cd $(BUILD) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure
	$(call show_skips,$(BUILD))
	$(MAKE) emu-test sanitize-test fuzz-test

# build-emu/deepmotif: `--device cuda` runs the real CUDA host layer and kernels on the CPU emulator.
emu: setup
	@test -f $(EMU)/CMakeCache.txt || cmake -S . -B $(EMU) $(EMU_FLAGS) -DDM_TEST_FILTER='$(EMU_TESTS)'
	cmake --build $(EMU) -j $(JOBS)

emu-test: emu
	cd $(EMU) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure
	$(call show_skips,$(EMU))

sanitize-test: setup
	@test -f $(EMU_TSAN)/CMakeCache.txt || cmake -S . -B $(EMU_TSAN) $(EMU_FLAGS) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DDM_SANITIZE_THREAD=ON -DDM_TEST_FILTER='$(EMU_TESTS)'
	cmake --build $(EMU_TSAN) -j $(JOBS)
	cd $(EMU_TSAN) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure
	@test -f $(EMU_ASAN)/CMakeCache.txt || cmake -S . -B $(EMU_ASAN) $(EMU_FLAGS) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DDM_SANITIZE_ADDRESS=ON -DDM_SANITIZE_UNDEFINED=ON -DDM_TEST_FILTER='$(EMU_TESTS)'
	cmake --build $(EMU_ASAN) -j $(JOBS)
	cd $(EMU_ASAN) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure
	@test -f $(ASAN)/CMakeCache.txt || cmake -S . -B $(ASAN) $(ASAN_FLAGS)
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure
	$(call show_skips,$(ASAN))

# `make fuzz FUZZ_SECONDS=N`: each libFuzzer target for N seconds (default 300); prints executions,
# rate and coverage per target and appends them to bench/results/fuzz.tsv (tests/fuzz/README.md).
fuzz-build: setup
	@test -f $(FUZZ)/CMakeCache.txt || cmake -S . -B $(FUZZ) $(FUZZ_FLAGS)
	cmake --build $(FUZZ) -j $(JOBS)

fuzz: fuzz-build
	sh tests/fuzz/run.sh $(FUZZ) $(FUZZ_SECONDS) bench/results/fuzz.tsv

fuzz-test: fuzz-build
	sh tests/fuzz/run.sh $(FUZZ) $(FUZZ_TEST_SECONDS)

# The full story on the bundled default (no real data ships with the repository): a simulated data set
# with a planted CTCF motif; the CNN, RNN and CNN-RNN trained on it (default protocol, both strands
# (train's default --rc both); the CNN 10 epochs at lr 0.01; the RNN 15 epochs at lr 0.001, which leaves
# its loss plateau in time on this small set; the CNN-RNN 15 epochs at lr 0.002: at 0.01 its training is
# unstable) with --reproducible: the fixed-order kernels give the same weights, and so the same AUROCs,
# on every x86-64 machine and thread count (bench/results/reproducible.md), at about the speed of the
# default kernels, whose per-CPU OpenBLAS rounding moved the CNN-RNN's test AUROC from 0.911 to 0.967
# across OPENBLAS_CORETYPE values (bench/README.md); the dashboard of the three on the test set
# (visualizations computed there), its path and the AUROCs printed last.
# DATA=<dir>/<stem> runs on a real DeepBind pair instead: <stem>_AC.seq.gz plus one shuffled negative
# per positive for training, <stem>_B.seq.gz for the test, at most 20 epochs each as in
# bench/deepbind_accuracy.sh (a few minutes on two cores for REST), e.g.
#   make demo DATA=../shared/data/deepbind/REST_GM12878_NRSF_HudsonAlpha
# The JASPAR file of ../shared/data names the learned motifs when it is there.
DATA    ?=
demo: setup all
	@mkdir -p $(DEMO)
	@set -e; bin=$(BUILD)/deepmotif; out=$(DEMO); export OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive}; \
	if [ -n "$(DATA)" ]; then \
	    train="$(DATA)_AC.seq.gz"; test="$(DATA)_B.seq.gz"; neg="--negatives shuffle"; rnn_lr=0.01; \
	    name=$$(basename "$(DATA)"); epochs0=20; rnn_epochs=20; \
	else \
	    $$bin simulate --out $$out/train.seq.gz --n 5000 --seed $(SEED); \
	    $$bin simulate --out $$out/test.seq.gz --n 500 --seed 1$(SEED); \
	    train=$$out/train.seq.gz; test=$$out/test.seq.gz; neg=""; rnn_lr=0.001; name=simulated-CTCF; \
	    epochs0=10; rnn_epochs=15; cnnrnn_lr=0.002; cnnrnn_epochs=15; \
	fi; \
	for arch in cnn rnn cnnrnn; do \
	    lr=0.01; epochs=$$epochs0; if [ $$arch = rnn ]; then lr=$$rnn_lr; epochs=$$rnn_epochs; fi; \
	    if [ $$arch = cnnrnn ]; then lr=$${cnnrnn_lr:-0.01}; epochs=$${cnnrnn_epochs:-$$epochs0}; fi; \
	    echo "demo: training the $$arch ($$epochs epochs, lr $$lr)"; \
	    $$bin train --arch $$arch --train "$$train" $$neg --test "$$test" --epochs $$epochs --lr $$lr \
	        --seed $(SEED) --reproducible --out $$out/$$arch.dm --quiet; \
	done; \
	jaspar=../shared/data/jaspar/JASPAR2020_CORE_vertebrates_non-redundant_pfms_meme.txt; \
	db=""; if [ -f $$jaspar ]; then db="--db $$jaspar"; fi; \
	$$bin dashboard --model $$out/cnn.dm --model $$out/rnn.dm --model $$out/cnnrnn.dm --data "$$test" \
	    --name "$$name" --out $$out/dashboard --figures $$db

# Speed of a training step per architecture (bench/README.md); the accuracy benchmark on the shared
# DeepBind data is bench/deepbind_accuracy.sh.
bench: all
	OPENBLAS_NUM_THREADS=1 $(BUILD)/bench/bench_train

clean:
	rm -rf $(BUILD) $(EMU) $(EMU_TSAN) $(EMU_ASAN) $(ASAN) $(FUZZ)
