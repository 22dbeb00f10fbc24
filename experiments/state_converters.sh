#!/usr/bin/env bash
# Issue #32: how many bits the state converters of an analog recurrence need, on the shipped
# all-8-bit sMNIST checkpoint (x on an 8-bit grid, one learned step per mode) and an IMSSA-style
# chip scaled to it (experiments/chips/imssa_smnist.json: differential pairs, converters ranged
# by the trained grid). The state ADC and the state DAC are swept apart, the other at 16 bits:
# ADC bits in ADC_BITS (DAC 16), DAC bits in DAC_BITS (ADC 16), and the design point ADC 8, DAC
# 12; controls: the ADC points and both at 12 bits with ranges calibrated per tile (the earlier
# ranges), and offset encoding (imssa_64's) with the ADC at 8 bits. TRIALS chips each on the
# first LIMIT test digits; the device is rram_multilevel without its stuck devices (a stuck
# device in a recurrence block fails it outright: RESULTS 7). Writes one eval JSON per point into
# OUT (default experiments/results/state_converters/), skips points already there (resumable),
# then summarizes them. About 1 s per chip and digit on 2 cores: the default 10 points x 10 chips
# x 32 digits take about 40 minutes; the DAC-per-mode points (4) about 15 more, the drift and
# heterogeneous points (6) about 30 more. ONLY="NAME ..." runs only the named points (run.sh
# scores the design point on 100 digits this way: ONLY=adc8_dacmode8 LIMIT=100, 15 minutes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${QS4D_BIN:-$root/build/bin/qs4dsim}  # a copy keeps a long run on one binary
CKPT=${CKPT:-$root/data/checkpoints/smnist784_s4d_h64_n64_l4_qat8_x8.h5}
DATA=${DATA:-$root/data/datasets/mnist_784_test.h5}
CHIP=${CHIP:-$root/experiments/chips/imssa_smnist.json}
ADC_BITS=${ADC_BITS:-6 8}
DAC_BITS=${DAC_BITS:-8 10 12}
TRIALS=${TRIALS:-10}
LIMIT=${LIMIT:-32}
THREADS=${THREADS:-2}
SEED=${SEED:-1}
out=${OUT:-$root/experiments/results/state_converters}
mkdir -p "$out"
point() {  # point NAME DAC_BITS ADC_BITS RANGES [extra --set ...]
  local name=$1 dac=$2 adc=$3 ranges=$4
  shift 4
  [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $name "* ]] || return 0
  [ -f "$out/$name.json" ] && { echo "$name: done"; return; }
  echo "$name: state DAC $dac bits, state ADC $adc bits, ranges $ranges, $TRIALS chips, $LIMIT digits"
  "$bin" eval "$CKPT" --data "$DATA" --chip "$CHIP" --limit "$LIMIT" --trials "$TRIALS" --seed "$SEED" \
    --threads "$THREADS" --energy-samples 4 --set device.stuck.at_min=0 --set device.stuck.at_max=0 \
    --set periphery.state_dac_bits="$dac" --set periphery.state_adc_bits="$adc" \
    --set periphery.state_ranges="$ranges" "$@" --json "$out/$name.json" > "$out/$name.txt"
}
for b in $ADC_BITS; do point "adc${b}_dac16" 16 "$b" trained; done
for b in $DAC_BITS; do point "dac${b}_adc16" "$b" 16 trained; done
point adc8_dac12 12 8 trained  # a design point: the ADC at the grid's bits, the DAC where it holds
# The state DAC with a full scale per row, its mode's trained bound (periphery.state_dac_ranges
# "mode"), against one per channel above: DAC bits in MODE_DAC_BITS (ADC 16), and the design point
# with both converters at the grid's 8 bits.
MODE_DAC_BITS=${MODE_DAC_BITS:-6 7 8 10}
for b in $MODE_DAC_BITS; do point "dacmode${b}_adc16" "$b" 16 trained --set periphery.state_dac_ranges=mode; done
point adc8_dacmode8 8 8 trained --set periphery.state_dac_ranges=mode
# Controls: the same bits with the ranges calibrated per tile (the DAC scaled to each input
# vector), and imssa_64's offset encoding.
point calibrated_dac12_adc12 12 12 calibrated
for b in $ADC_BITS; do point "calibrated_adc${b}_dac16" 16 "$b" calibrated; done
point offset_adc8_dac16 16 8 trained --set mapping.encoding=offset --set mapping.offset_reference=column
# Drift: the design point and its calibrated control a day after programming
# (rram_multilevel's log-relaxation drift; no drift compensation, the chip's setting).
for t in 1d; do
  point "adc8_dac12_$t" 12 8 trained --times "$t"
  point "calibrated_dac12_adc12_$t" 12 12 calibrated --times "$t"
done
# The design point a month and a year after programming (the preset's drift is assumed, with no
# time limit: these ask how far its log relaxation may run before the trained ranges fail).
for t in 30d 1y; do point "adc8_dac12_$t" 12 8 trained --times "$t"; done
# The heterogeneous checkpoint (weights at 4 bits, Bbar at 8, x on its 8-bit grid) at the design
# point, and its calibrated control.
HET=${HET:-$root/data/checkpoints/smnist784_s4d_h64_n64_l4_qathet_x8.h5}
CKPT=$HET point het_x8_adc8_dac12 12 8 trained
CKPT=$HET point het_x8_calibrated_dac12_adc12 12 12 calibrated
/usr/bin/python3 "$root/experiments/summarize_state_converters.py" "$out"
