#!/bin/bash
# Device call 1 (2026-11-26): speed probe of the Shapes teacher at its default batch on the GPU, then three
# teacher recipes and the 2D toy teachers trained side by side, each process driving the GPU through Dawn/Vulkan.
# Results come back as split tar pieces under $OUT (see scripts/device/README.md).
source scripts/device/prelude.sh || exit 1
mkdir -p /tmp/runs
$SF pretrain shapes --seed 1 --steps 150 --out /tmp/runs/probe --adapter default --log-every 50 2>&1 | grep -v Warning | tee $OUT/probe.log
grep -qiE 'llvmpipe|swiftshader' $OUT/probe.log && { echo "software adapter: stop"; exit 3; }
M=${M:-6.5}
common="--seed 1 --steps 1000000 --batch 128 --adapter default --log-every 500 --max-minutes $M"
$SF pretrain shapes $common --lr 5e-4 --out /tmp/runs/tA > /tmp/runs/tA.log 2>&1 &
$SF pretrain shapes $common --lr 5e-4 --sigma-shift 2 --out /tmp/runs/tB > /tmp/runs/tB.log 2>&1 &
$SF pretrain shapes $common --lr 1e-3 --sigma-shift 2 --out /tmp/runs/tC > /tmp/runs/tC.log 2>&1 &
timeout 480 $SF pretrain toy2d --seed 1 --steps 12000 --adapter default --log-every 100 --out /tmp/runs/toy2d > /tmp/runs/toy2d.log 2>&1 &
wait
for r in tA tB tC toy2d; do echo "== $r"; grep -v Warning /tmp/runs/$r.log | tail -4; done
(cd /tmp && tar cf - runs | split -b 15m - $OUT/runs.tar.)
ls -la $OUT
