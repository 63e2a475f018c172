// Register-tiled matmul for any M, N, K (the CPU adapters' fallback when a dim is not a multiple of 4).
// Needs matmul_common.wgsl prepended (Params, TRANS_A/B, batch_offsets, activate).
//
// Algorithm: one invocation computes a 4x4 block of C[z] (rows 4*wid.y.., columns 4*gid.x..) in four
// vec4 accumulators, looping over K one step at a time: 4 scalar loads of A's column k, 4 of B's row k,
// 16 multiply-adds. No workgroup memory, no barriers (each is a fiber switch on SwiftShader). The
// workgroup is one row of WG_X invocations, so the rows of A read depend only on the workgroup id
// (llvmpipe then loads them once per SIMD group; see matmul_register_vec4.wgsl).
// Rows and columns past M / N are clamped to the last one for the loads (valid memory, no branch in
// the loop) and skipped at the store.
// Layout: A [M, K] (or [K, M] with TRANS_A), B [K, N] (or [N, K] with TRANS_B), C [M, N], row-major,
// each batch entry at the offsets batch_offsets(z); bias [N]; preact like C.
// Cost per invocation and step of k: 8 scalar loads, 16 multiply-adds (A and B are re-read by every
// block: M*N*K/2 loads in all); 16 stores at the end.
// Measured (bench/matmul.measure.test.ts, best of 3 on 2 shared CPU cores; table in nn/ops/matmul.ts):
// SwiftShader 0.7-1.1 GFLOP/s (1.08 at 512^3), llvmpipe 2.0-4.7 (4.5 at 512^3). About 1/2 and 1/3 of
// the vec4 kernel's: it is only used where a dim is not a multiple of 4.
override WG_X: u32 = 16u;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read_write> preact: array<f32>;

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * 4u; // gid.y is the workgroup's y: uniform across it
  let col0 = gid.x * 4u;
  if (row0 >= p.M || col0 >= p.N) {
    return;
  }
  let offsets = batch_offsets(gid.z);
  // Clamped rows / columns: loads stay in bounds, results past the edge are dropped at the store.
  let rows = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.M - 1u));
  let cols = min(vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.N - 1u));
  // Index of element (row, k) of A is a_index + k * a_step; of (k, col) of B, b_index + k * b_step.
  var a_index: vec4<u32>;
  var a_step: u32;
  if (TRANS_A) {
    a_index = offsets.x + rows;
    a_step = p.M;
  } else {
    a_index = offsets.x + rows * p.K;
    a_step = 1u;
  }
  var b_index: vec4<u32>;
  var b_step: u32;
  if (TRANS_B) {
    b_index = offsets.y + cols * p.K;
    b_step = 1u;
  } else {
    b_index = offsets.y + cols;
    b_step = p.N;
  }
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    let bk = vec4<f32>(b[b_index.x], b[b_index.y], b[b_index.z], b[b_index.w]);
    acc0 += a[a_index.x] * bk;
    acc1 += a[a_index.y] * bk;
    acc2 += a[a_index.z] * bk;
    acc3 += a[a_index.w] * bk;
    a_index += a_step;
    b_index += b_step;
  }
  var bias4 = vec4<f32>(0.0);
  if (HAS_BIAS) {
    bias4 = vec4<f32>(bias[cols.x], bias[cols.y], bias[cols.z], bias[cols.w]);
  }
  let base = gid.z * p.M * p.N;
  store_row(base, row0, col0, acc0 + bias4);
  store_row(base, row0 + 1u, col0, acc1 + bias4);
  store_row(base, row0 + 2u, col0, acc2 + bias4);
  store_row(base, row0 + 3u, col0, acc3 + bias4);
}

/** Writes the in-bounds part of 4 outputs of a row: activation(z) to c, z to preact. */
fn store_row(base: u32, row: u32, col0: u32, z: vec4<f32>) {
  if (row >= p.M) {
    return;
  }
  let y = activate(z);
  let index = base + row * p.N + col0;
  for (var j = 0u; j < 4u; j++) {
    if (col0 + j < p.N) {
      c[index + j] = y[j];
      if (SAVE_PREACTIVATION) {
        preact[index + j] = z[j];
      }
    }
  }
}
