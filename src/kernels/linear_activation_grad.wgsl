// The backward of linear's fused activation: dz[i] = dy[i] * activation'(z[i]), z the pre-activation
// the forward saved. One invocation per element, memory bound: 12 bytes moved per element.
// GELU (tanh form), with u = sqrt(2/pi) (z + 0.044715 z^3) and t = tanh(u):
//   d/dz [0.5 z (1 + t)] = 0.5 (1 + t) + 0.5 z (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2)
// SiLU, with s = sigmoid(z): d/dz [z s] = s (1 + z (1 - s)).
override WORKGROUP_SIZE: u32 = 64u;
override ACTIVATION: u32 = 1u; // 1: GELU (tanh form), 2: SiLU (as in matmul_common.wgsl)

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;

const SQRT_2_OVER_PI = 0.7978845608028654;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  let x = z[i];
  var slope: f32;
  if (ACTIVATION == 1u) {
    // tanh clamped as in the forward (|u| > 15 is +-1 in f32; some tanh implementations overflow to NaN).
    let t = tanh(clamp(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x), -15.0, 15.0));
    slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x);
  } else {
    let s = 1.0 / (1.0 + exp(-x));
    slope = s * (1.0 + x * (1.0 - s));
  }
  dz[i] = dy[i] * slope;
}
