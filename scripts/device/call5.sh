#!/bin/bash
# Device call 5 (prepared 2026-11-26, not run yet): continue the bundled Shapes teacher (45.2% at 7,184 steps, still
# climbing) from its weights, since its checkpoint folder did not survive: recipe C with a fresh AdamW (100 warm-up
# steps) and seed 2 (new batches), for M minutes of the 10-minute call, then measured on 1,000 captions.
# Later calls continue it: carry .dev/tD (this call's /tmp/runs/tD, unpacked from runs.tar.*) and add --resume.
source scripts/device/prelude.sh || exit 1
mkdir -p /tmp/runs
[ -d .dev/tD ] && cp -r .dev/tD /tmp/runs/tD && resume=--resume
$SF pretrain shapes --seed 2 --steps 1000000 --batch 128 --adapter default --log-every 250 --max-minutes ${M:-7.5} --lr 1e-3 --sigma-shift 2 \
  --init-from models/shapes-teacher --out /tmp/runs/tD $resume 2>&1 | grep -v Warning | tee $OUT/tD.log | tail -5
timeout 60 $SF measure --run /tmp/runs/tD --evaluator models/evaluator --count 1000 --batch 500 --steps 50 --guidance 4 --adapter default 2>&1 | grep -v Warning | grep -v "images$" | tee $OUT/measure.log
(cd /tmp && tar cf - runs | split -b 15m - $OUT/runs.tar.)
ls -la $OUT
