// Softmax over the last axis, numerically stable: y[r, c] = exp(x[r, c] - m_r) / sum_c' exp(x[r, c'] - m_r)
// with m_r = max_c x[r, c] (so every exponent is <= 0 and the sum is >= 1: no overflow, no 0/0).
// x, y: [rows, C] row-major. One invocation per row, three register loops (max; exponentials, written to
// y, and their sum; scale by 1/sum). No workgroup memory, no barriers.
// Cost per element: 2 reads of x, 1 read and 2 writes of y (cache-resident row), 1 exp, ~3 flops.
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

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
    y[base + c] = e;
    total += e;
  }
  let inv = 1.0 / total;
  for (var c = 0u; c < p.channels; c++) {
    y[base + c] *= inv;
  }
}
