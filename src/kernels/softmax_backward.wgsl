// Softmax backward from the saved output: dx = y * (dy - sum_c(dy * y)) (the Jacobian diag(y) - y y^T
// applied to dy). y, dy, dx: [rows, C]. One invocation per row, two register loops (the dot product,
// then dx). No barriers. Cost per element: 2 reads each of y and dy, 1 write, 4 flops.
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.channels;
  var dot = 0.0;
  for (var c = 0u; c < p.channels; c++) {
    dot += dy[base + c] * y[base + c];
  }
  for (var c = 0u; c < p.channels; c++) {
    dx[base + c] = y[base + c] * (dy[base + c] - dot);
  }
}
