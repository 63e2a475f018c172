// Register-tiled matmul with vec4 loads, for M, N and K all multiples of 4 (the CPU adapters' kernel).
// Needs matmul_common.wgsl prepended (Params, TRANS_A/B, batch_offsets, activate).
//
// Algorithm: one invocation computes an 8x8 block of C[z] in 16 vec4 accumulators (rows 8*wid.y..,
// columns 8 per invocation along x), looping over K four at a time: per step it loads the 8x4 block of A
// and the 4x8 block of B as 8 + 8 vec4, along whichever axis is contiguous in memory (A's rows, or its
// columns when TRANS_A, transposed in registers; B's rows, or its columns when TRANS_B), then does 256
// multiply-adds as 16 mat4x4 * vec4 products. No workgroup memory and no barriers (on SwiftShader each
// barrier is a fiber switch per invocation).
// The workgroup is one row of WG_X invocations, so the rows of A an invocation reads depend only on the
// workgroup id: llvmpipe's divergence analysis then loads them once per SIMD group instead of once per
// lane (measured 1.4x faster than a 16x4 workgroup there). SwiftShader gathers every load lane by lane
// (emulated, one branch per lane), which makes it load-bound whatever the block shape: 8x8 blocks and
// 4x4 blocks measured the same there, 8x8 was 1.6x faster than 4x4 on llvmpipe.
// Edges: M, N, K % 4 == 0; a last block of 4 rows or 4 columns clamps its loads and skips its stores.
// Layout: A [M, K] (or [K, M] with TRANS_A), B [K, N] (or [N, K] with TRANS_B), C [M, N], row-major,
// viewed as vec4 (batch offsets are multiples of 4 because M, N, K are); bias [N]; preact like C.
// Cost per invocation and 4 steps of k: 16 vec4 loads, 256 multiply-adds (each value of A is read
// N/8 times, of B M/8 times); 16 vec4 stores at the end.
// Measured (bench/matmul.measure.test.ts, best of 3 on 2 shared CPU cores; table in nn/ops/matmul.ts):
// SwiftShader 1.6-1.7 GFLOP/s on the DiT training shapes (1.66 at 512^3; 1.1-1.4 on 8-head attention);
// llvmpipe 9.8-15 (15.1 at 512^3, 12.6 at 1024^3; 5.3-6.5 on attention). On SwiftShader loads are 80%
// of the time: the same loop with its loads hoisted out ran at 4.5 GFLOP per CPU-second.
override WG_X: u32 = 16u;

@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> preact: array<vec4<f32>>;

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M4 = p.M / 4u;
  let N4 = p.N / 4u;
  let K4 = p.K / 4u;
  let col4 = (wid.x * WG_X + lid.x) * 2u; // vec4 column index of the block's columns 0..3
  if (col4 >= N4) {
    return;
  }
  let col4_hi = min(col4 + 1u, N4 - 1u); // columns 4..7, clamped on a 4-column last block
  let row4 = wid.y * 2u; // vec4 row index of the block's rows 0..3
  let row4_hi = min(row4 + 1u, M4 - 1u);
  let offsets = batch_offsets(wid.z) / 4u;

  // a_lo, a_hi: vec4 index of the first load of rows 0..3 / 4..7 of the block, and its step per 4 k.
  // Without TRANS_A the 8 rows are loaded separately (stride K4 between rows, + j * K4 for row j).
  var a_lo: u32;
  var a_hi: u32;
  var a_step: u32;
  if (TRANS_A) {
    a_lo = offsets.x + row4;
    a_hi = offsets.x + row4_hi;
    a_step = 4u * M4;
  } else {
    a_lo = offsets.x + row4 * 4u * K4;
    a_hi = offsets.x + row4_hi * 4u * K4;
    a_step = 1u;
  }
  var b_lo: u32;
  var b_hi: u32;
  var b_step: u32;
  if (TRANS_B) {
    b_lo = offsets.y + col4 * 4u * K4;
    b_hi = offsets.y + col4_hi * 4u * K4;
    b_step = 1u;
  } else {
    b_lo = offsets.y + col4;
    b_hi = offsets.y + col4_hi;
    b_step = 4u * N4;
  }
  let a_stride = select(K4, M4, TRANS_A); // between the 4 loads of one half-block of A
  let b_stride = select(N4, K4, TRANS_B);

  // acc_r_lo / acc_r_hi: columns 0..3 / 4..7 of row r of the block.
  var acc0_lo = vec4<f32>(0.0); var acc0_hi = vec4<f32>(0.0);
  var acc1_lo = vec4<f32>(0.0); var acc1_hi = vec4<f32>(0.0);
  var acc2_lo = vec4<f32>(0.0); var acc2_hi = vec4<f32>(0.0);
  var acc3_lo = vec4<f32>(0.0); var acc3_hi = vec4<f32>(0.0);
  var acc4_lo = vec4<f32>(0.0); var acc4_hi = vec4<f32>(0.0);
  var acc5_lo = vec4<f32>(0.0); var acc5_hi = vec4<f32>(0.0);
  var acc6_lo = vec4<f32>(0.0); var acc6_hi = vec4<f32>(0.0);
  var acc7_lo = vec4<f32>(0.0); var acc7_hi = vec4<f32>(0.0);
  for (var k4 = 0u; k4 < K4; k4++) {
    // Rows of A's 8x4 block (components: the 4 values of k), in two 4x4 halves.
    var a_top = mat4x4<f32>(a[a_lo], a[a_lo + a_stride], a[a_lo + 2u * a_stride], a[a_lo + 3u * a_stride]);
    var a_bottom = mat4x4<f32>(a[a_hi], a[a_hi + a_stride], a[a_hi + 2u * a_stride], a[a_hi + 3u * a_stride]);
    if (TRANS_A) {
      a_top = transpose(a_top);
      a_bottom = transpose(a_bottom);
    }
    // B's 4x8 block as two 4x4 matrices whose column kk is row kk of B (so that b * a_row sums over k).
    var b_left = mat4x4<f32>(b[b_lo], b[b_lo + b_stride], b[b_lo + 2u * b_stride], b[b_lo + 3u * b_stride]);
    var b_right = mat4x4<f32>(b[b_hi], b[b_hi + b_stride], b[b_hi + 2u * b_stride], b[b_hi + 3u * b_stride]);
    if (TRANS_B) {
      b_left = transpose(b_left);
      b_right = transpose(b_right);
    }
    acc0_lo += b_left * a_top[0]; acc0_hi += b_right * a_top[0];
    acc1_lo += b_left * a_top[1]; acc1_hi += b_right * a_top[1];
    acc2_lo += b_left * a_top[2]; acc2_hi += b_right * a_top[2];
    acc3_lo += b_left * a_top[3]; acc3_hi += b_right * a_top[3];
    acc4_lo += b_left * a_bottom[0]; acc4_hi += b_right * a_bottom[0];
    acc5_lo += b_left * a_bottom[1]; acc5_hi += b_right * a_bottom[1];
    acc6_lo += b_left * a_bottom[2]; acc6_hi += b_right * a_bottom[2];
    acc7_lo += b_left * a_bottom[3]; acc7_hi += b_right * a_bottom[3];
    a_lo += a_step;
    a_hi += a_step;
    b_lo += b_step;
    b_hi += b_step;
  }
  var bias_lo = vec4<f32>(0.0);
  var bias_hi = vec4<f32>(0.0);
  if (HAS_BIAS) {
    bias_lo = bias[col4];
    bias_hi = bias[col4_hi];
  }
  let store_hi = col4 + 1u < N4;
  let row0 = wid.y * 8u;
  let base = wid.z * p.M;
  store_row(base, row0, col4, store_hi, acc0_lo + bias_lo, acc0_hi + bias_hi);
  store_row(base, row0 + 1u, col4, store_hi, acc1_lo + bias_lo, acc1_hi + bias_hi);
  store_row(base, row0 + 2u, col4, store_hi, acc2_lo + bias_lo, acc2_hi + bias_hi);
  store_row(base, row0 + 3u, col4, store_hi, acc3_lo + bias_lo, acc3_hi + bias_hi);
  store_row(base, row0 + 4u, col4, store_hi, acc4_lo + bias_lo, acc4_hi + bias_hi);
  store_row(base, row0 + 5u, col4, store_hi, acc5_lo + bias_lo, acc5_hi + bias_hi);
  store_row(base, row0 + 6u, col4, store_hi, acc6_lo + bias_lo, acc6_hi + bias_hi);
  store_row(base, row0 + 7u, col4, store_hi, acc7_lo + bias_lo, acc7_hi + bias_hi);
}

/** Writes 8 outputs of a row (4 when store_hi is false), activated, and Z to preact. */
fn store_row(base: u32, row: u32, col4: u32, store_hi: bool, z_lo: vec4<f32>, z_hi: vec4<f32>) {
  if (row >= p.M) {
    return;
  }
  let index = (base + row) * (p.N / 4u) + col4;
  c[index] = activate(z_lo);
  if (SAVE_PREACTIVATION) {
    preact[index] = z_lo;
  }
  if (store_hi) {
    c[index + 1u] = activate(z_hi);
    if (SAVE_PREACTIVATION) {
      preact[index + 1u] = z_hi;
    }
  }
}
