#!/bin/bash
# Device call 2 (2026-11-26): a kernel profile of one Shapes teacher step at batch 32 and 128 on the GPU
# (SENSEFLOW_PROFILE, nn/profiler.ts), then recipe C of call 1 (lr 1e-3, sigma shift 2, batch 128) resumed alone.
source scripts/device/prelude.sh || exit 1
for b in 32 128; do
  SENSEFLOW_PROFILE=10 $SF pretrain shapes --seed 1 --steps 20 --batch $b --out /tmp/prof$b --adapter default --log-every 20 2>&1 | grep -v Warning | grep -v "^\[shapes\] done" | tee $OUT/profile-b$b.log | head -30
done
mkdir -p /tmp/runs && cp -r .dev/tC /tmp/runs/tC
$SF pretrain shapes --seed 1 --steps 1000000 --batch 128 --adapter default --log-every 250 --max-minutes ${M:-6} --lr 1e-3 --sigma-shift 2 --out /tmp/runs/tC --resume 2>&1 | grep -v Warning | tee $OUT/tC-call2.log | tail -6
(cd /tmp && tar cf - runs | split -b 15m - $OUT/runs.tar.)
ls -la $OUT
