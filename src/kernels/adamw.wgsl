// One AdamW step for one parameter tensor, fused: decoupled weight decay, both moment updates and the
// bias-corrected update in a single pass (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
// Algorithm 2; the same arithmetic as torch.optim.AdamW):
//   p <- p - lr * weight_decay * p
//   m <- beta1 * m + (1 - beta1) * g            v <- beta2 * v + (1 - beta2) * g^2
//   p <- p - lr * (m * correction1) / (sqrt(v * correction2) + eps)
// where correction1 = 1 / (1 - beta1^t) and correction2 = 1 / (1 - beta2^t) for the parameter's step t,
// computed in float64 on the host (1 - beta2^t is 1e-3 at t = 1: too small to form well in f32 here).
// Layout: p, g, m, v are flat arrays of n f32 (any shape, row-major). One invocation per element, no
// workgroup memory: memory bound, 16 bytes read and 12 written per element, ~15 flops and one sqrt.
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  correction1: f32,
  correction2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  let g = grad[i];
  let m_next = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let v_next = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = m_next;
  v[i] = v_next;
  var x = param[i];
  x = x - p.lr * p.weight_decay * x;
  x = x - p.lr * (m_next * p.correction1) / (sqrt(v_next * p.correction2) + p.eps);
  param[i] = x;
}
