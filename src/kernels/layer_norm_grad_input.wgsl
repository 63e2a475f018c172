// Layer normalisation backward, the input gradient, from the saved per-row mean and rstd:
//   xhat = (x - mean) * rstd,  g = dy * gamma (dy without affine),
//   dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat))
// (the derivative of y = xhat * gamma + beta through the mean and the variance of the row).
// x, dy, dx: [rows, C]; stats: [rows, 2] = (mean, rstd). One invocation per row, two register loops
// (the two row means, then dx). No barriers. Cost per element: 2 reads each of x and dy, 2 of gamma,
// 1 write; ~10 flops.
override WORKGROUP_SIZE: u32 = 64u;
override HAS_GAMMA: bool = true;

struct Params {
  rows: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

fn scaled_grad(base: u32, c: u32) -> f32 {
  if (HAS_GAMMA) {
    return dy[base + c] * gamma[c];
  }
  return dy[base + c];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.channels;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  var sum_g = 0.0;
  var sum_g_xhat = 0.0;
  for (var c = 0u; c < p.channels; c++) {
    let g = scaled_grad(base, c);
    sum_g += g;
    sum_g_xhat += g * (x[base + c] - mean) * rstd;
  }
  let n = f32(p.channels);
  let mean_g = sum_g / n;
  let mean_g_xhat = sum_g_xhat / n;
  for (var c = 0u; c < p.channels; c++) {
    let xhat = (x[base + c] - mean) * rstd;
    dx[base + c] = rstd * (scaled_grad(base, c) - mean_g - xhat * mean_g_xhat);
  }
}
