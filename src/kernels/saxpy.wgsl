// saxpy: y[i] <- a * x[i] + y[i] for i < n.
// The harness's proof kernel: one invocation per element, WORKGROUP_SIZE invocations per workgroup,
// the grid rounded up to whole workgroups and the tail guarded. Reads 2 and writes 1 f32 per element:
// memory bound, 12 bytes per element.
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  a: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= params.n) {
    return;
  }
  y[i] = params.a * x[i] + y[i];
}
