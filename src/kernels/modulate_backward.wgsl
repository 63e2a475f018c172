// Gradients of y = x * (1 + scale) + shift with respect to the per-sample shift and scale:
//   dshift[b, c] = sum_t dy[b, t, c],   dscale[b, c] = sum_t dy[b, t, c] * x[b, t, c]
// Layout: dy, x f32 [batch, tokens, channels]; dshift, dscale f32 [batch, channels].
// One invocation per (b, c) looping over the tokens: both sums from one read of dy and x, no workgroup
// memory or barriers; batch * channels-way parallel, 8 bytes read per token. Accumulated in pairwise
// blocks of 64 (as sum_to.wgsl) so the error grows like sqrt(tokens) ulp.
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  tokens: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dshift: array<f32>;
@group(0) @binding(4) var<storage, read_write> dscale: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (o >= p.n) {
    return;
  }
  let b = o / p.channels;
  let base = b * p.tokens * p.channels + o % p.channels;
  var shift_total = 0.0;
  var scale_total = 0.0;
  var t = 0u;
  loop {
    if (t >= p.tokens) { break; }
    var shift_block = 0.0;
    var scale_block = 0.0;
    let end = min(t + 64u, p.tokens);
    for (; t < end; t++) {
      let g = dy[base + t * p.channels];
      shift_block += g;
      scale_block += g * x[base + t * p.channels];
    }
    shift_total += shift_block;
    scale_total += scale_block;
  }
  dshift[o] = shift_total;
  dscale[o] = scale_total;
}
