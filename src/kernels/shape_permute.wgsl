// Transpose: out = x permuted, out.shape[k] = x.shape[perm[k]], for any permutation up to rank 6.
// The output index is split into coordinates over out's dims d0..d5 (left-padded with 1s), and the
// input offset is sum_k coord_k * s_k, where s_k = x's stride along axis perm[k] (the host permutes the
// strides, so one kernel serves every permutation). Words are copied as u32: dtype-agnostic, bit-exact.
// One invocation per output element; memory bound (8 bytes per element) but the reads are strided,
// so a transpose of the last two axes reads with stride = row length (no tiling: CPU adapters make
// the workgroup barriers of a shared-memory tile cost more than the cache misses they save).
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
  s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  var rem = i;
  var c = rem % p.d5; rem = rem / p.d5; var src = c * p.s5;
  c = rem % p.d4; rem = rem / p.d4; src += c * p.s4;
  c = rem % p.d3; rem = rem / p.d3; src += c * p.s3;
  c = rem % p.d2; rem = rem / p.d2; src += c * p.s2;
  c = rem % p.d1; rem = rem / p.d1; src += c * p.s1;
  src += rem * p.s0;
  out[i] = x[src];
}
