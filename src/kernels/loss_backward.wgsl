// Gradients of the mean loss L = (1 / count) sum_i w_b l(p_i - t_i) (loss.wgsl), scaled by the upstream
// gradient g = dL_total/dL, read from a one-element buffer (no read back):
//   MODE 0 (prediction / target, one invocation per element):
//     out[i] = sign * g / count * w_b * l'(d_i),  l'(d) = 2d (MSE) or d / sqrt(d^2 + c^2) (pseudo-Huber);
//     sign = 1 for the prediction, -1 for the target.
//   MODE 1 (weights, one invocation per sample b, looping its per_sample elements in blocks of 64):
//     out[b] = g / count * sum_{i in sample b} l(d_i)
// Layout: p, t f32 [count]; w f32 [batch] (WEIGHTED false: the prediction is bound there, unread);
// g f32 [1]; out f32 [count] (MODE 0) or [batch] (MODE 1). Memory bound, 8-12 bytes per element.
override LOSS: u32 = 0u;
override WEIGHTED: bool = false;
override MODE: u32 = 0u;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  count: u32,
  per_sample: u32,
  c: f32,
  inv_count: f32,
  sign: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> predictions: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read> upstream: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn loss_term(d: f32) -> f32 {
  if (LOSS == 1u) {
    return d * d / (sqrt(d * d + p.c * p.c) + p.c);
  }
  return d * d;
}

fn loss_derivative(d: f32) -> f32 {
  if (LOSS == 1u) {
    return d / sqrt(d * d + p.c * p.c);
  }
  return 2.0 * d;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  let factor = upstream[0] * p.inv_count;
  if (MODE == 0u) {
    var g = p.sign * factor * loss_derivative(predictions[i] - targets[i]);
    if (WEIGHTED) {
      g *= weights[i / p.per_sample];
    }
    out[i] = g;
  } else {
    let start = i * p.per_sample;
    let end = start + p.per_sample;
    var total = 0.0;
    var k = start;
    loop {
      if (k >= end) { break; }
      let block_end = min(k + 64u, end);
      var block = 0.0;
      for (; k < block_end; k++) {
        block += loss_term(predictions[k] - targets[k]);
      }
      total += block;
    }
    out[i] = factor * total;
  }
}
