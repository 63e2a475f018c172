#!/bin/bash
# Device call 3 (2026-11-26): recipe C resumed again (with sum_to chunked on GPUs), then the teacher measured:
# prompt accuracy and FD to real on 1,000 captions, 50 Euler steps, guidance 4, 2.5 and 6 (src/cli/measure.ts).
source scripts/device/prelude.sh || exit 1
mkdir -p /tmp/runs && cp -r .dev/tC /tmp/runs/tC
$SF pretrain shapes --seed 1 --steps 1000000 --batch 128 --adapter default --log-every 250 --max-minutes ${M:-5.5} --lr 1e-3 --sigma-shift 2 --out /tmp/runs/tC --resume 2>&1 | grep -v Warning | tee $OUT/tC-call3.log | tail -5
timeout 200 $SF measure --run /tmp/runs/tC --evaluator models/evaluator --count 1000 --batch 500 --steps 50 --guidance 4,2.5,6 --adapter default 2>&1 | grep -v Warning | grep -v "images$" | tee $OUT/measure.log
(cd /tmp && tar cf - runs | split -b 15m - $OUT/runs.tar.)
ls -la $OUT
