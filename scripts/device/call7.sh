#!/bin/bash
# Device call 7 (prepared 2026-12-07, not run yet): does REPA help the bundled teacher (71.7%, shape 83% its weakest
# attribute) go on learning? Two runs side by side on the one GPU, each continuing models/shapes-teacher's weights
# with a fresh AdamW (100 warm-up steps), seed 3, batch 128, constant lr ${LR:-3e-4}, sigma shift 2: tP plain flow
# matching (the control: call5.sh's continuation at this lr) and tR with --repa ${REPA:-0.5} (the projector starts
# fresh; docs/ARCHITECTURE.md, "REPA"), for M minutes each, then both measured on the bundle's 1,000 captions.
# The two processes share the GPU (each is mostly dispatch-bound at this size); their loss.csv has fm and repa columns.
# Later calls continue them: carry .dev/tP and .dev/tR (this call's /tmp/runs/*, unpacked from runs.tar.*).
# Then here: `npm run bundle -- --kind shapes-teacher --run .dev/tR --out models/shapes-teacher` only if tR beats tP
# and the teacher is confirmed with an independently trained evaluator (the REPA encoder is the metric's network).
source scripts/device/prelude.sh || exit 1
mkdir -p /tmp/runs
for arm in tP tR; do [ -d .dev/$arm ] && cp -r .dev/$arm /tmp/runs/$arm; done
pretrain() { # arm, extra flags
  local resume=; [ -d /tmp/runs/$1/checkpoint ] && resume=--resume
  $SF pretrain shapes --seed 3 --steps 1000000 --batch 128 --adapter default --log-every 250 --max-minutes ${M:-6} --lr ${LR:-3e-4} --sigma-shift 2 \
    --init-from models/shapes-teacher --out /tmp/runs/$1 $resume "${@:2}" 2>&1 | grep -v Warning > $OUT/$1.log
}
pretrain tP & pretrain tR --repa ${REPA:-0.5} & wait
tail -n 3 $OUT/tP.log $OUT/tR.log
for arm in tP tR; do
  timeout 90 $SF measure --run /tmp/runs/$arm --evaluator models/evaluator --count 1000 --batch 500 --steps 50 --guidance 4 --adapter default 2>&1 | grep -v Warning | grep -v "images$" | tee $OUT/measure-$arm.log
done
(cd /tmp && tar cf - runs | split -b 15m - $OUT/runs.tar.)
ls -la $OUT
