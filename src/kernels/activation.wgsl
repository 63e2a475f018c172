// Pointwise activations and their derivatives, selected by override constants:
//   ACTIVATION 0: GELU, tanh form (Hendrycks & Gimpel 2016, as in GPT-2 / DiT's "gelu_tanh"):
//     gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
//     gelu'(x) = 0.5 (1 + tanh(u)) + 0.5 x (1 - tanh(u)^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
//   ACTIVATION 1: SiLU (swish): silu(x) = x s(x), s = 1 / (1 + exp(-x));  silu'(x) = s (1 + x (1 - s))
//   ACTIVATION 2: ReLU: max(x, 0);  relu'(x) = 1 for x > 0, else 0 (the hinge losses of the GAN term)
//   BACKWARD false: out[i] = f(x[i]);  true: out[i] = dy[i] * f'(x[i])  (dy unused in the forward,
//   where the caller binds x in its place so one binding layout serves both).
// Layout: flat arrays of n elements. One invocation per element; memory bound: 8 bytes per element
// forward, 12 backward; a tanh or exp per element.
override ACTIVATION: u32 = 0u;
override BACKWARD: bool = false;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;

// tanh through exp overflows to inf/inf = NaN on some backends for large |u|; tanh(10) is 1 in f32.
fn safe_tanh(u: f32) -> f32 {
  return tanh(clamp(u, -10.0, 10.0));
}

fn sigmoid(v: f32) -> f32 {
  return 1.0 / (1.0 + exp(-v));
}

fn activation(v: f32) -> f32 {
  if (ACTIVATION == 0u) {
    return 0.5 * v * (1.0 + safe_tanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)));
  }
  if (ACTIVATION == 2u) {
    return max(v, 0.0);
  }
  return v * sigmoid(v);
}

fn derivative(v: f32) -> f32 {
  if (ACTIVATION == 0u) {
    let t = safe_tanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
    return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * v * v);
  }
  if (ACTIVATION == 2u) {
    return select(0.0, 1.0, v > 0.0);
  }
  let s = sigmoid(v);
  return s * (1.0 + v * (1.0 - s));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  if (BACKWARD) {
    out[i] = dy[i] * derivative(x[i]);
  } else {
    out[i] = activation(x[i]);
  }
}
