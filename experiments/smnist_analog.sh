#!/usr/bin/env bash
# The analog side of the sMNIST benchmark (issue #20): the FP32 sMNIST models (L = 784, and the
# same digits 2x2 pooled at L = 196) on imssa_64 with the S4D recurrence on the crossbar (8-bit
# recurrence blocks; projections post-training quantized to 8 bits). The preset fails at both
# lengths, so this is an ablation: every non-ideality of the chip off, then one at a time on,
# then all on; accuracy of LIMIT test digits (the files are shuffled), TRIALS chips, at 1 s and,
# for drift, 1 y. Writes OUT/smnist_analog.json (one entry per length and configuration), then
# OUT/smnist_analog_bits.json (accuracy against the state converters' bits). PART=2 runs only
# the second part.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${QS4D_BIN:-$root/build/bin/qs4dsim}
out=${OUT:-$root/experiments/results}
LIMIT=${LIMIT:-40}
TRIALS=${TRIALS:-1}
THREADS=${THREADS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
off=(--set device.programming.scale=0 --set device.read_noise.scale=0
     --set device.stuck.at_min=0 --set device.stuck.at_max=0 --set 'device.drift={"kind":"none"}'
     --set periphery.dac_bits=0 --set periphery.adc_bits=0
     --set periphery.state_dac_bits=0 --set periphery.state_adc_bits=0)
configs=(
  "all off|"
  "programming noise + write-verify|--set device.programming.scale=1"
  "read noise 0.2%|--set device.read_noise.scale=1"
  "stuck devices 0.01% each end|--set device.stuck.at_min=0.0001 --set device.stuck.at_max=0.0001"
  "DAC 8 bits|--set periphery.dac_bits=8"
  "ADC 8 bits|--set periphery.adc_bits=8"
  "state DAC 10 bits|--set periphery.state_dac_bits=10"
  "state ADC 10 bits|--set periphery.state_adc_bits=10"
  "state DAC+ADC 12 bits|--set periphery.state_dac_bits=12 --set periphery.state_adc_bits=12"
  "state DAC+ADC 16 bits|--set periphery.state_dac_bits=16 --set periphery.state_adc_bits=16"
)
if [ "${PART:-all}" != 2 ]; then
echo "[" >"$tmp/all.json"
first=1
for L in ${LENGTHS:-196 784}; do
  ckpt=$root/data/checkpoints/smnist${L}_s4d_h64_n64_l4_fp32.h5
  data=$root/data/datasets/mnist_${L}_test.h5
  run() {  # label, json, extra args...
    local label=$1 json=$2; shift 2
    "$bin" eval "$ckpt" --data "$data" --chip imssa_64 --set mapping.weight_bits=8 \
      --limit "$LIMIT" --trials "$TRIALS" --threads "$THREADS" --energy-samples 0 --seed 1 \
      "$@" --json "$json" >/dev/null
    [ $first = 1 ] || echo "," >>"$tmp/all.json"
    first=0
    printf '{"L": %s, "config": "%s", "eval": ' "$L" "$label" >>"$tmp/all.json"
    cat "$json" >>"$tmp/all.json"
    echo "}" >>"$tmp/all.json"
    echo "L=$L $label: $(grep -o '"analog_accuracy_mean": [0-9.e-]*' "$json" | head -2 | tr '\n' ' ')"
  }
  i=0
  for c in "${configs[@]}"; do
    read -r -a extra <<<"${c#*|}"
    times=1s; [ "${c%%|*}" = "all off" ] && times=1s,1y
    run "${c%%|*}" "$tmp/$L.$i.json" "${off[@]}" "${extra[@]}" --times "$times"
    i=$((i + 1))
  done
  run "drift only" "$tmp/$L.drift.json" "${off[@]}" --set 'device.drift={"kind":"log_relaxation","mean_per_ln_s":-0.002,"std_per_ln_s":0.001,"std_uS":0.01}' --times 1s,1d,1y
  run "the preset (all on)" "$tmp/$L.all.json" --times 1s,1d,1y
done
echo "]" >>"$tmp/all.json"
mkdir -p "$out"
mv "$tmp/all.json" "$out/smnist_analog.json"
fi

# Part 2: accuracy against the state converters' bits, with the ADC range given 4x headroom above
# what calibration saw and no stuck devices (the two failures part 1 finds), everything else as
# the preset; 1 s and 1 y after programming.
echo "[" >"$tmp/bits.json"
first=1
for L in ${LENGTHS:-196 784}; do
  ckpt=$root/data/checkpoints/smnist${L}_s4d_h64_n64_l4_fp32.h5
  data=$root/data/datasets/mnist_${L}_test.h5
  for b in 10 12 14 16; do
    "$bin" eval "$ckpt" --data "$data" --chip imssa_64 --set mapping.weight_bits=8 \
      --set periphery.adc_headroom=4 --set device.stuck.at_min=0 --set device.stuck.at_max=0 \
      --set periphery.state_dac_bits=$b --set periphery.state_adc_bits=$b \
      --limit "$LIMIT" --trials "$TRIALS" --threads "$THREADS" --energy-samples 0 --seed 1 \
      --times 1s,1y --json "$tmp/b.json" >/dev/null
    [ $first = 1 ] || echo "," >>"$tmp/bits.json"
    first=0
    printf '{"L": %s, "state_bits": %s, "eval": ' "$L" "$b" >>"$tmp/bits.json"
    cat "$tmp/b.json" >>"$tmp/bits.json"
    echo "}" >>"$tmp/bits.json"
    echo "L=$L state bits $b: $(grep -o '"analog_accuracy_mean": [0-9.e-]*' "$tmp/b.json" | tr '\n' ' ')"
  done
done
echo "]" >>"$tmp/bits.json"
mv "$tmp/bits.json" "$out/smnist_analog_bits.json"
