// Shared by attention.wgsl, attention_grad_query.wgsl and attention_grad_key.wgsl (ops/attention.ts prepends it):
// the uniform parameters, the head layouts, and the causal visibility rule.
//
// A head layout places element (b, h, t, c) of an operand [B, H, T, D] at
//   offset + b * batch_stride + h * head_stride + t * row_stride + c
// in its buffer: [B, H, T, D] stored as it is, or the heads of a projection [B, T, parts * H * D] read in place.
override WORKGROUP_SIZE: u32 = 64u;
override CAUSAL: bool = false;

struct Layout {
  offset: u32,
  batch_stride: u32,
  head_stride: u32,
  row_stride: u32,
}

struct Params {
  bh: u32,
  heads: u32,
  tq: u32,
  tk: u32,
  d: u32,
  dv: u32,
  causal_offset: i32,
  scale: f32,
  q_layout: Layout,
  k_layout: Layout,
  v_layout: Layout,
  out_layout: Layout,
}

@group(0) @binding(0) var<uniform> p: Params;

// The index of element 0 of row 0 of head bh under a layout (row t is t * row_stride further).
fn head_base(l: Layout, bh: u32) -> u32 {
  return l.offset + (bh / p.heads) * l.batch_stride + (bh % p.heads) * l.head_stride;
}

// Keys [0, visible_end(i)) pass the causal mask for query i (causal_offset = Tk - Tq: the last query sees every key).
fn visible_end(i: u32) -> u32 {
  if (CAUSAL) {
    return u32(clamp(i32(i) + p.causal_offset + 1, 0, i32(p.tk)));
  }
  return p.tk;
}
