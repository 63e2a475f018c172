// Stage 1 of softmax cross-entropy (nn/ops/crossEntropy.ts): per row r of logits x [rows, C],
//   m = max_c x[r, c],  s = sum_c exp(x[r, c] - m),  p[r, c] = exp(x[r, c] - m) / s   (saved for the backward)
//   ce_r = log(s) - (x[r, t_r] - m)   (= logsumexp(x_r) - x_r[t_r], with every exponent <= 0: no overflow)
//   stats[r] = (w_r * ce_r, w_r), w_r the row's weight (1 when WEIGHTED is false), 0 when t_r >= C (an ignored row).
// Layout: x, p f32 [rows, C]; targets u32 [rows]; weights f32 [rows] (unread when WEIGHTED is false: the caller
// binds x there); stats vec2<f32> [rows]. One invocation per row, three register loops as softmax.wgsl; no
// workgroup memory, no barriers. Cost per element: 2 reads of x, 1 read and 2 writes of p, 1 exp.
override WEIGHTED: bool = false;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec2<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.channels;
  var m = x[base];
  for (var c = 1u; c < p.channels; c++) {
    m = max(m, x[base + c]);
  }
  var total = 0.0;
  for (var c = 0u; c < p.channels; c++) {
    let e = exp(x[base + c] - m);
    probs[base + c] = e;
    total += e;
  }
  let inv = 1.0 / total;
  for (var c = 0u; c < p.channels; c++) {
    probs[base + c] *= inv;
  }
  let label = targets[row];
  if (label >= p.channels) {
    stats[row] = vec2<f32>(0.0, 0.0);
    return;
  }
  var w = 1.0;
  if (WEIGHTED) {
    w = weights[row];
  }
  stats[row] = vec2<f32>(w * (log(total) - (x[base + label] - m)), w);
}
