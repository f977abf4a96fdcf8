#!/bin/sh
# bench/results/ema_small.md from the probe's rows (bench/ema_probe/run.sh), sizes 2000 and 500.
here=$(dirname "$0")
res=$here/../results
{
l2000=$(python3 "$here/sum.py" "$res/ema_probe_2000.tsv" 0.999)
l500=$(python3 "$here/sum.py" "$res/ema_probe_500.tsv" 0.999)
cat <<MD
# The weights' moving average on small sets (issue 15)

Question: does selecting and keeping an exponential moving average of the weights (\`train --ema D\`)
instead of the weights themselves raise test AUROC where the learning curve's deepmotif models sit
below the gapped k-mer SVM (2,000 positives)? Command: \`bench/ema_probe/run.sh\` (one training per TF ×
architecture × seed with \`probe.patch\`'s build: the average of three decays followed beside the
weights in the same run, each follower validating, selecting and counting its own patience as
\`train --ema D\` does, none feeding back into training; decay 0 is the weights, i.e. train without
the average), summary \`bench/ema_probe/sum.py\`. Data: \`bench/learning_curve.sh\`'s seeded draws of
the 5 TFs' \`_AC\` files (N positives with one dinucleotide shuffle each, 10 % of the pairs held out,
both strands: 7,200 training sequences at N = 2,000, 1,800 at N = 500), test on the full \`_B\`; one
thread, AMD EPYC, \`OPENBLAS_CORETYPE=Haswell\` (the workplace's setting). Each cell: test AUROC (selected epoch); Δ against decay 0.
The committed \`--ema\` was checked against the probe on ELK1's CNN at 2,000, seed 1: the same
selected epoch (89) and test AUROC (0.9550).

Result (decay 0.999, test AUROC against the weights themselves): at 2,000 positives $l2000,
the largest where a run's selection was noisy (ARID3A's CNN, seed 1: +0.013); at 500 $l500. Decays 0.99–0.999 differ little (a short run's ramp
min(D, (1 + t)/(10 + t)) keeps them equal for the first ~900 steps). Hence \`train\`'s default
(host/train.c, README "Training protocols"): decay 0.999 from 4,096 to 8,191 training sequences
(where the batch is 128, the size of the 2,000 row), for the CNN and the CNN-RNN; not below (the
500 row), not from 8,192 (not measured: those sets train as before), and not for the RNN, whose
own small-set row was not measured with the average.

## 2,000 positives (7,200 training sequences)

MD
python3 "$here/sum.py" "$res/ema_probe_2000.tsv"
printf '\n## 500 positives (1,800 training sequences)\n\n'
python3 "$here/sum.py" "$res/ema_probe_500.tsv"
printf '\nRows: `bench/results/ema_probe_2000.tsv`, `bench/results/ema_probe_500.tsv` (tf, arch, seed, seconds of the\nwhole probe run, decay, selected epoch, its validation measure, test AUROC).\n'
} > "$res/ema_small.md"
