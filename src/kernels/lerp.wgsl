// In-place linear interpolation of one parameter tensor toward another, the IDA update of SenseFlow
// (Implicit Distribution Alignment): phi <- lambda * phi + (1 - lambda) * theta, with phi the fake score
// network's parameter (target, written) and theta the generator's (source, read).
// Written as two products rather than mix() so that lambda = 1 keeps phi bit-exact and lambda = 0 copies
// theta bit-exact (mix may be lowered to phi + (theta - phi) * t, which rounds).
// Layout: flat arrays of n f32. One invocation per element: memory bound, 8 bytes read, 4 written.
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  lambda: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> target_param: array<f32>;
@group(0) @binding(2) var<storage, read> source_param: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  target_param[i] = p.lambda * target_param[i] + (1.0 - p.lambda) * source_param[i];
}
