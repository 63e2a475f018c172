// y = 1 / max(x, floor) and its backward dx = dy * (x > floor ? -1 / x^2 : 0), selected by BACKWARD.
// The floor keeps the x-prediction parameterisation's division by the noise level finite near s = 0
// (nets/dit.ts: velocity = (sample - x0_hat) / max(sigma, floor)).
// Layout: flat arrays of n elements, one invocation per element. Memory bound: 8 bytes per element forward,
// 12 backward; in the DiT it runs on [B] values, so its cost is one dispatch.
override BACKWARD: bool = false;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  floor: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  let v = x[i];
  if (BACKWARD) {
    out[i] = select(0.0, -dy[i] / (v * v), v > p.floor);
  } else {
    out[i] = 1.0 / max(v, p.floor);
  }
}
