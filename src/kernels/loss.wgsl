// Stage 1 of a mean loss: partial[j] = (1 / count) * sum over elements i of chunk j of w[i / per_sample] * l(p_i - t_i)
//   LOSS 0: l(d) = d^2 (MSE);  LOSS 1: l(d) = sqrt(d^2 + c^2) - c (pseudo-Huber), evaluated as
//   d^2 / (sqrt(d^2 + c^2) + c), equal in exact arithmetic but free of the cancellation at |d| << c.
//   WEIGHTED false: w = 1 (the caller binds the prediction in w's slot; unread).
// The host sums the ceil(count / CHUNK) partials with sum_to.wgsl (stage 2, one invocation), so the
// scalar is a two-level sum: error ~ sqrt(CHUNK) + sqrt(count / CHUNK) ulp instead of count ulp.
// Layout: p, t f32 [count] (any shape, flattened; the first axis is the batch), w f32 [batch],
// partial f32 [ceil(count / CHUNK)]. One invocation per chunk, no barriers; reads 8 bytes per element
// (+ the cached weights). Within a chunk, sums run in blocks of 64.
override LOSS: u32 = 0u;
override WEIGHTED: bool = false;
override CHUNK: u32 = 256u;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  count: u32,
  per_sample: u32,
  c: f32,
  inv_count: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> predictions: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

fn term(i: u32) -> f32 {
  let d = predictions[i] - targets[i];
  var l = d * d;
  if (LOSS == 1u) {
    l = l / (sqrt(l + p.c * p.c) + p.c);
  }
  if (WEIGHTED) {
    l *= weights[i / p.per_sample];
  }
  return l;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let j = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (j >= p.n) {
    return;
  }
  let end = min((j + 1u) * CHUNK, p.count);
  var total = 0.0;
  var i = j * CHUNK;
  loop {
    if (i >= end) { break; }
    let block_end = min(i + 64u, end);
    var block = 0.0;
    for (; i < block_end; i++) {
      block += term(i);
    }
    total += block;
  }
  partial[j] = total * p.inv_count;
}
