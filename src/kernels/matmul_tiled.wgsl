// Shared-memory tiled matmul for GPUs (after TensorFlow.js's WebGPU matmul), any M, N, K.
// Needs matmul_common.wgsl prepended (Params, TRANS_A/B, batch_offsets, activate).
//
// Algorithm: an 8x8 workgroup computes a 32x32 tile of C[z]; each invocation a 4x4 block of it in
// registers. K is staged TILE_K = 32 at a time: the workgroup copies a 32x32 tile of A and one of B
// into workgroup memory (16 values of each per invocation, zero past the edges, the index mapping
// chosen so that neighbouring invocations read neighbouring addresses whatever the transposes), a
// barrier, 32 steps of 4+4 workgroup-memory reads and 16 multiply-adds, a barrier.
// Layout: A [M, K] (or [K, M] with TRANS_A), B [K, N] (or [N, K] with TRANS_B), C [M, N], row-major,
// each batch entry at the offsets batch_offsets(z); bias [N]; preact like C.
// Cost: global loads M*N*K/16 (each value of A is read by N/32 workgroups, of B by M/32), 2 barriers
// per 32 steps of k. On CPU adapters the barriers dominate (SwiftShader runs each invocation as a
// fiber and switches at every barrier). Measured (bench/matmul.measure.test.ts, best of 3 on 2 shared
// CPU cores; table in nn/ops/matmul.ts): SwiftShader 0.09-0.39 GFLOP/s, llvmpipe 0.95-2.6; not yet
// measured on a GPU (none on this machine), where it is the kernel chosen.
const TILE = 32u; // rows and columns of C per workgroup, and TILE_K
const THREADS = 64u;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read_write> preact: array<f32>;

var<workgroup> tile_a: array<array<f32, 32>, 32>; // [m][k]
var<workgroup> tile_b: array<array<f32, 32>, 32>; // [k][n]

fn load_a(offset: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) {
    return 0.0;
  }
  if (TRANS_A) {
    return a[offset + k * p.M + m];
  }
  return a[offset + m * p.K + k];
}

fn load_b(offset: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) {
    return 0.0;
  }
  if (TRANS_B) {
    return b[offset + n * p.K + k];
  }
  return b[offset + k * p.N + n];
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) thread: u32) {
  let offsets = batch_offsets(wid.z);
  let tile_row = wid.y * TILE;
  let tile_col = wid.x * TILE;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += TILE) {
    for (var i = 0u; i < TILE * TILE / THREADS; i++) {
      let e = thread + i * THREADS;
      // Consecutive invocations take consecutive elements of the contiguous axis of each operand.
      let fast = e % TILE;
      let slow = e / TILE;
      if (TRANS_A) {
        tile_a[fast][slow] = load_a(offsets.x, tile_row + fast, k0 + slow);
      } else {
        tile_a[slow][fast] = load_a(offsets.x, tile_row + slow, k0 + fast);
      }
      if (TRANS_B) {
        tile_b[fast][slow] = load_b(offsets.y, k0 + fast, tile_col + slow);
      } else {
        tile_b[slow][fast] = load_b(offsets.y, k0 + slow, tile_col + fast);
      }
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) {
      let bk = vec4<f32>(tile_b[k][lid.x * 4u], tile_b[k][lid.x * 4u + 1u], tile_b[k][lid.x * 4u + 2u], tile_b[k][lid.x * 4u + 3u]);
      for (var r = 0u; r < 4u; r++) {
        acc[r] += tile_a[lid.y * 4u + r][k] * bk;
      }
    }
    workgroupBarrier();
  }
  let col0 = tile_col + lid.x * 4u;
  var bias4 = vec4<f32>(0.0);
  if (HAS_BIAS) {
    for (var j = 0u; j < 4u; j++) {
      bias4[j] = bias[min(col0 + j, p.N - 1u)];
    }
  }
  let base = wid.z * p.M * p.N;
  for (var r = 0u; r < 4u; r++) {
    let row = tile_row + lid.y * 4u + r;
    if (row >= p.M) {
      break;
    }
    let z = acc[r] + bias4;
    let y = activate(z);
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < p.N) {
        c[base + row * p.N + col0 + j] = y[j];
        if (SAVE_PREACTIVATION) {
          preact[base + row * p.N + col0 + j] = z[j];
        }
      }
    }
  }
}
