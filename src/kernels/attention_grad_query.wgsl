// Scaled dot-product attention backward, part 1 of 2: the score gradient dS and dq, from the
// probabilities P saved by attention.wgsl (the softmax backward, then the chain rule through s = scale q.k):
//   dP_ij = dout_i . v_j,   delta_i = sum_j P_ij dP_ij,   dS_ij = P_ij (dP_ij - delta_i),
//   dq_i = scale * sum_j dS_ij k_j
// dS [BH, Tq, Tk] is written whole (0 where P is 0: hidden keys, empty rows) for
// attention_grad_key.wgsl. Other layouts as in attention.wgsl: dout is read through the output's head layout,
// dq written through the query's (into the query's gradient buffer).
//
// Algorithm: one invocation per block of 4 query rows of one (batch, head), tiled like attention.wgsl:
// (A) dP, 4 rows x 4 keys per step (8 loads per 16 multiply-adds), written into dS; (B) per real row,
// delta and dS in place; (C) dq, 4 rows x 4 columns per step. Clamped loads, guarded stores, no
// workgroup memory, no barriers. Causal blocks stop at the last key their last row sees.
// Cost per (query, key) pair: (Dv + D) multiply-adds and (Dv + D) / 2 loads; per query row: Tk floats
// of dS written twice and read D / 4 + 2 times.

@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> probs: array<f32>;
@group(0) @binding(5) var<storage, read_write> dscores: array<f32>;
@group(0) @binding(6) var<storage, read_write> dq: array<f32>;

// dP (valid below `end`) -> dS, in place, for one row; 0 from `end` on.
fn softmax_grad_row(p0: u32, end: u32) {
  var delta = 0.0;
  for (var j = 0u; j < end; j++) {
    delta += probs[p0 + j] * dscores[p0 + j];
  }
  for (var j = 0u; j < p.tk; j++) {
    var ds = 0.0;
    if (j < end) {
      ds = probs[p0 + j] * (dscores[p0 + j] - delta);
    }
    dscores[p0 + j] = ds;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let blocks = (p.tq + 3u) / 4u;
  let block = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  let bh = block / blocks;
  if (bh >= p.bh) {
    return;
  }
  let q_base = head_base(p.q_layout, bh);
  let k_base = head_base(p.k_layout, bh);
  let v_base = head_base(p.v_layout, bh);
  let out_base = head_base(p.out_layout, bh);
  let i0 = (block % blocks) * 4u;
  let last = p.tq - 1u;
  let rows = min(p.tq - i0, 4u);
  let i1 = min(i0 + 1u, last);
  let i2 = min(i0 + 2u, last);
  let i3 = min(i0 + 3u, last);
  let r0 = (bh * p.tq + i0) * p.tk;
  let r1 = (bh * p.tq + i1) * p.tk;
  let r2 = (bh * p.tq + i2) * p.tk;
  let r3 = (bh * p.tq + i3) * p.tk;
  // Keys past `end` have P = 0 for every row of the block. Past its own visible end a row's P is 0
  // too, so its dS there comes out 0 without a per-row bound in the tiled loops.
  let end = visible_end(i3);

  // (A) dP = dout v^T, 4 rows x 4 keys per step, into dscores
  let oa = out_base + i0 * p.out_layout.row_stride;
  let ob = out_base + i1 * p.out_layout.row_stride;
  let oc = out_base + i2 * p.out_layout.row_stride;
  let od = out_base + i3 * p.out_layout.row_stride;
  let last_key = p.tk - 1u;
  for (var j = 0u; j < end; j += 4u) {
    let va = v_base + j * p.v_layout.row_stride;
    let vb = v_base + (min(j + 1u, last_key)) * p.v_layout.row_stride;
    let vc = v_base + (min(j + 2u, last_key)) * p.v_layout.row_stride;
    let vd = v_base + (min(j + 3u, last_key)) * p.v_layout.row_stride;
    var d0 = vec4<f32>(0.0);
    var d1 = vec4<f32>(0.0);
    var d2 = vec4<f32>(0.0);
    var d3 = vec4<f32>(0.0);
    for (var c = 0u; c < p.dv; c++) {
      let vj = vec4<f32>(v[va + c], v[vb + c], v[vc + c], v[vd + c]);
      d0 += dout[oa + c] * vj;
      d1 += dout[ob + c] * vj;
      d2 += dout[oc + c] * vj;
      d3 += dout[od + c] * vj;
    }
    for (var u = 0u; u < 4u && j + u < end; u++) {
      dscores[r0 + j + u] = d0[u];
      dscores[r1 + j + u] = d1[u];
      dscores[r2 + j + u] = d2[u];
      dscores[r3 + j + u] = d3[u];
    }
  }

  // (B) dS per real row (a repeated row must not be transformed twice)
  softmax_grad_row(r0, end);
  if (rows > 1u) { softmax_grad_row(r1, end); }
  if (rows > 2u) { softmax_grad_row(r2, end); }
  if (rows > 3u) { softmax_grad_row(r3, end); }

  // (C) dq = scale * dS k, 4 rows x 4 columns per step
  let qa = q_base + i0 * p.q_layout.row_stride;
  let qb = q_base + i1 * p.q_layout.row_stride;
  let qc = q_base + i2 * p.q_layout.row_stride;
  let qd = q_base + i3 * p.q_layout.row_stride;
  let last_col = p.d - 1u;
  for (var c = 0u; c < p.d; c += 4u) {
    let cb = min(c + 1u, last_col);
    let cc = min(c + 2u, last_col);
    let cd = min(c + 3u, last_col);
    var g0 = vec4<f32>(0.0);
    var g1 = vec4<f32>(0.0);
    var g2 = vec4<f32>(0.0);
    var g3 = vec4<f32>(0.0);
    for (var j = 0u; j < end; j++) {
      let kj = k_base + j * p.k_layout.row_stride;
      let krow = vec4<f32>(k[kj + c], k[kj + cb], k[kj + cc], k[kj + cd]);
      g0 += dscores[r0 + j] * krow;
      g1 += dscores[r1 + j] * krow;
      g2 += dscores[r2 + j] * krow;
      g3 += dscores[r3 + j] * krow;
    }
    for (var u = 0u; u < 4u && c + u < p.d; u++) {
      dq[qa + c + u] = g0[u] * p.scale;
      if (rows > 1u) { dq[qb + c + u] = g1[u] * p.scale; }
      if (rows > 2u) { dq[qc + c + u] = g2[u] * p.scale; }
      if (rows > 3u) { dq[qd + c + u] = g3[u] * p.scale; }
    }
  }
}
