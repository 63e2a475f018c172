// Layer normalisation over the last axis, forward: y = (x - mean) * rstd * gamma + beta,
// rstd = 1 / sqrt(var + eps), var the biased (1/C) variance. x, y: [rows, C] row-major.
// Saves per-row statistics for the backward: stats[2r] = mean, stats[2r + 1] = rstd.
// One invocation per row, three register loops over the row (mean; variance about the mean, which
// avoids the cancellation of E[x^2] - mean^2; normalise). No workgroup memory, no barriers.
// Cost per element: 3 reads of x (the row is cache-resident), 1 read each of gamma and beta, 1 write;
// ~7 flops. Only `rows`-way parallel, which is plenty for [B*T, C] activations.
// gamma and beta are always bound; HAS_GAMMA / HAS_BETA = false skips reading them (the host binds a
// placeholder buffer then).
override WORKGROUP_SIZE: u32 = 64u;
override HAS_GAMMA: bool = true;
override HAS_BETA: bool = true;

struct Params {
  rows: u32,
  channels: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.channels;
  let n = f32(p.channels);
  var total = 0.0;
  for (var c = 0u; c < p.channels; c++) {
    total += x[base + c];
  }
  let mean = total / n;
  var squares = 0.0;
  for (var c = 0u; c < p.channels; c++) {
    let d = x[base + c] - mean;
    squares += d * d;
  }
  let rstd = inverseSqrt(squares / n + p.eps);
  for (var c = 0u; c < p.channels; c++) {
    var v = (x[base + c] - mean) * rstd;
    if (HAS_GAMMA) {
      v *= gamma[c];
    }
    if (HAS_BETA) {
      v += beta[c];
    }
    y[base + c] = v;
  }
  stats[2u * row] = mean;
  stats[2u * row + 1u] = rstd;
}
