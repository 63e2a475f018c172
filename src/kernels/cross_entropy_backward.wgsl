// Gradient of softmax cross-entropy L = sum_r w_r ce_r / D (cross_entropy.wgsl, D = max(sum_r w_r, 1)) for the
// logits, scaled by the upstream gradient g (a one-element buffer, no read back):
//   dx[r, c] = g * w_r / D * (p[r, c] - [c == t_r])
// with w_r the effective weight saved in stats[r].y (0 for an ignored row, whose gradient is then 0), and
// 1 / D saved by cross_entropy_reduce.wgsl. D is treated as a constant: the weights are masks, not learned.
// Layout: p, dx f32 [rows, C]; targets u32 [rows]; stats vec2<f32> [rows]. One invocation per element,
// memory bound: 8 bytes read and 4 written per element (the row's target and stats are cached).
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> inverse_denominator: array<f32>;
@group(0) @binding(5) var<storage, read> upstream: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  let row = i / p.channels;
  let c = i - row * p.channels;
  var onehot = 0.0;
  if (c == targets[row]) {
    onehot = 1.0;
  }
  dx[i] = upstream[0] * inverse_denominator[0] * stats[row].y * (probs[i] - onehot);
}
