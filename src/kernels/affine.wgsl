// y[i] = x[i] * scale + shift: scale, and the backward of scale. Memory bound, 8 bytes per element.
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  scale: f32,
  shift: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  y[i] = x[i] * p.scale + p.shift;
}
