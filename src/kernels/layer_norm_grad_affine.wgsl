// Layer normalisation backward, the affine parameters' gradients, summed over rows:
//   dgamma[c] = sum_r dy[r, c] * xhat[r, c],  dbeta[c] = sum_r dy[r, c],  xhat = (x - mean_r) * rstd_r
// x, dy: [rows, C]; stats: [rows, 2] = (mean, rstd); dgamma, dbeta: [C].
// One invocation per channel looping down its column (stride C): no barriers, but only C-way parallel,
// which keeps a 2-core CPU adapter busy for C >= 64 and would underuse a real GPU.
// Accumulates in pairwise blocks of 64 rows (as sum_to.wgsl) to keep the error near sqrt(rows) ulp.
// Cost per (row, channel): 1 read each of x and dy, 2 stats reads (shared by the channels), ~5 flops.
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (c >= p.channels) {
    return;
  }
  var total_gamma = 0.0;
  var total_beta = 0.0;
  var r = 0u;
  loop {
    if (r >= p.rows) { break; }
    var block_gamma = 0.0;
    var block_beta = 0.0;
    let end = min(r + 64u, p.rows);
    for (; r < end; r++) {
      let g = dy[r * p.channels + c];
      let xhat = (x[r * p.channels + c] - stats[2u * r]) * stats[2u * r + 1u];
      block_gamma += g * xhat;
      block_beta += g;
    }
    total_gamma += block_gamma;
    total_beta += block_beta;
  }
  dgamma[c] = total_gamma;
  dbeta[c] = total_beta;
}
