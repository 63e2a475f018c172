// adaLN modulation (DiT, Peebles & Xie 2023): y[b, t, c] = x[b, t, c] * (1 + scale[b, c]) + shift[b, c].
// ADD_SHIFT false computes the input gradient with the same indexing: dx = dy * (1 + scale) (the caller
// binds dy in x's slot; shift is bound but unread).
// Layout: x, out f32 [batch, tokens, channels]; shift, scale f32 [batch, channels].
// One invocation per element; memory bound: 8 bytes per element plus the (cached) shift and scale rows.
override ADD_SHIFT: bool = true;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  tokens: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> shift: array<f32>;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  let row = (i / (p.tokens * p.channels)) * p.channels + i % p.channels; // (b, c)
  var value = x[i] * (1.0 + scale[row]);
  if (ADD_SHIFT) {
    value += shift[row];
  }
  out[i] = value;
}
