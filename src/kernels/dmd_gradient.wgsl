// The DMD gradient with its per-sample normaliser (DMD, Yin et al. 2024, eq. 8; DMD2's code; SenseFlow sec. 3):
//   norm[b] = mean_m |x[b, m] - x0_real[b, m]|
//   g[b, m] = (x0_fake[b, m] - x0_real[b, m]) / max(norm[b], 1e-12)
// x, x0_real, x0_fake f32 [B, M] (M = the per-sample size: 2 on the toy, 3 * 32 * 32 on Shapes); norm f32 [B];
// g f32 [B, M]. Two passes selected by PASS, neither with barriers (expensive on CPU adapters):
//   PASS 0: one invocation per sample sums its M values serially in blocks of 64 (B invocations, 8 bytes read
//           per element; on a GPU this is ~M dependent loads per thread, a few microseconds for M = 3072).
//   PASS 1: one invocation per element, 12 bytes read and 4 written.
override PASS: u32 = 0u;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  per_sample: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x0_real: array<f32>;
@group(0) @binding(3) var<storage, read> x0_fake: array<f32>;
@group(0) @binding(4) var<storage, read_write> norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> g: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  if (PASS == 0u) {
    let start = i * p.per_sample;
    let end = start + p.per_sample;
    var total = 0.0;
    var k = start;
    loop {
      if (k >= end) { break; }
      let block_end = min(k + 64u, end);
      var block = 0.0;
      for (; k < block_end; k++) {
        block += abs(x[k] - x0_real[k]);
      }
      total += block;
    }
    norm[i] = total / f32(p.per_sample);
  } else {
    g[i] = (x0_fake[i] - x0_real[i]) / max(norm[i / p.per_sample], 1e-12);
  }
}
