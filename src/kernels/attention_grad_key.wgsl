// Scaled dot-product attention backward, part 2 of 2: dk and dv from the saved probabilities P and the
// score gradient dS of attention_grad_query.wgsl:
//   dk_j = scale * sum_i dS_ij q_i,   dv_j = sum_i P_ij dout_i
// Layouts as in attention.wgsl: q and dout read through the query's and the output's head layouts, dk and dv
// written through the key's and the value's. With SHARED_KV, k and v are parts of one tensor (a [B, S, 2C]
// projection, or the whole [B, T, 3C] of self-attention), so dk and dv are parts of one gradient: both are
// written through the `dk` binding (WebGPU refuses two writable bindings of one buffer), and `dv` is unused.
// Hidden (query, key) pairs have P = dS = 0, so the key mask is not needed here: a masked key gets
// dk = dv = 0 from the sums.
//
// Algorithm: one invocation per block of 4 key rows of one (batch, head), 4 keys x 4 columns per step:
// 4 loads of a row of dS (or P, contiguous) and 4 of q (or dout) per 16 multiply-adds. With CAUSAL the
// sums start at the first query that sees the block's first key. Clamped loads, guarded stores, no
// workgroup memory, no barriers.
// Cost per (query, key) pair: (D + Dv) multiply-adds and (D + Dv) / 2 loads.
override SHARED_KV: bool = false;

fn store_dv(i: u32, value: f32) {
  if (SHARED_KV) {
    dk[i] = value;
  } else {
    dv[i] = value;
  }
}

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> probs: array<f32>;
@group(0) @binding(4) var<storage, read> dscores: array<f32>;
@group(0) @binding(5) var<storage, read_write> dk: array<f32>;
@group(0) @binding(6) var<storage, read_write> dv: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let blocks = (p.tk + 3u) / 4u;
  let block = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  let bh = block / blocks;
  if (bh >= p.bh) {
    return;
  }
  let q_base = head_base(p.q_layout, bh);
  let k_base = head_base(p.k_layout, bh);
  let v_base = head_base(p.v_layout, bh);
  let out_base = head_base(p.out_layout, bh);
  let j0 = (block % blocks) * 4u;
  let last_key = p.tk - 1u;
  // Columns of P and dS for the block's keys (clamped: a repeated key is loaded, never stored).
  let ja = j0;
  let jb = min(j0 + 1u, last_key);
  let jc = min(j0 + 2u, last_key);
  let jd = min(j0 + 3u, last_key);
  var start = 0u;
  if (CAUSAL) {
    start = u32(clamp(i32(j0) - p.causal_offset, 0, i32(p.tq)));
  }
  let rows0 = bh * p.tq; // the first probability row of this (batch, head)
  let ka = k_base + j0 * p.k_layout.row_stride;
  let kb = k_base + jb * p.k_layout.row_stride;
  let kc = k_base + jc * p.k_layout.row_stride;
  let kd = k_base + jd * p.k_layout.row_stride;

  for (var c = 0u; c < p.d; c += 4u) {
    let cb = min(c + 1u, p.d - 1u);
    let cc = min(c + 2u, p.d - 1u);
    let cd = min(c + 3u, p.d - 1u);
    var g0 = vec4<f32>(0.0);
    var g1 = vec4<f32>(0.0);
    var g2 = vec4<f32>(0.0);
    var g3 = vec4<f32>(0.0);
    for (var i = start; i < p.tq; i++) {
      let s0 = (rows0 + i) * p.tk;
      let q0 = q_base + i * p.q_layout.row_stride;
      let qrow = vec4<f32>(q[q0 + c], q[q0 + cb], q[q0 + cc], q[q0 + cd]);
      g0 += dscores[s0 + ja] * qrow;
      g1 += dscores[s0 + jb] * qrow;
      g2 += dscores[s0 + jc] * qrow;
      g3 += dscores[s0 + jd] * qrow;
    }
    for (var u = 0u; u < 4u && c + u < p.d; u++) {
      dk[ka + c + u] = g0[u] * p.scale;
      if (j0 + 1u < p.tk) { dk[kb + c + u] = g1[u] * p.scale; }
      if (j0 + 2u < p.tk) { dk[kc + c + u] = g2[u] * p.scale; }
      if (j0 + 3u < p.tk) { dk[kd + c + u] = g3[u] * p.scale; }
    }
  }

  let va = v_base + j0 * p.v_layout.row_stride;
  let vb = v_base + jb * p.v_layout.row_stride;
  let vc = v_base + jc * p.v_layout.row_stride;
  let vd = v_base + jd * p.v_layout.row_stride;
  for (var c = 0u; c < p.dv; c += 4u) {
    let cb = min(c + 1u, p.dv - 1u);
    let cc = min(c + 2u, p.dv - 1u);
    let cd = min(c + 3u, p.dv - 1u);
    var g0 = vec4<f32>(0.0);
    var g1 = vec4<f32>(0.0);
    var g2 = vec4<f32>(0.0);
    var g3 = vec4<f32>(0.0);
    for (var i = start; i < p.tq; i++) {
      let s0 = (rows0 + i) * p.tk;
      let o0 = out_base + i * p.out_layout.row_stride;
      let orow = vec4<f32>(dout[o0 + c], dout[o0 + cb], dout[o0 + cc], dout[o0 + cd]);
      g0 += probs[s0 + ja] * orow;
      g1 += probs[s0 + jb] * orow;
      g2 += probs[s0 + jc] * orow;
      g3 += probs[s0 + jd] * orow;
    }
    for (var u = 0u; u < 4u && c + u < p.dv; u++) {
      store_dv(va + c + u, g0[u]);
      if (j0 + 1u < p.tk) { store_dv(vb + c + u, g1[u]); }
      if (j0 + 2u < p.tk) { store_dv(vc + c + u, g2[u]); }
      if (j0 + 3u < p.tk) { store_dv(vd + c + u, g3[u]); }
    }
  }
}
