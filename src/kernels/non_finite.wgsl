// Whether a tensor holds any NaN or infinity, reduced in passes of CHUNK to one flag (1.0 or 0.0):
//   first pass (FIRST): out[j] = 1 if any x[j + k * parts] is NaN or +-Inf, for k < CHUNK, else 0
//   later passes:       out[j] = 1 if any of those partial flags is non-zero, else 0
// with parts = ceil(n / CHUNK) invocations, strided as in grad_norm.wgsl (coalesced, no barriers).
// The test is on the bits (exponent all ones), because WGSL lets a compiler assume floats are finite
// and fold `x != x` or comparisons with infinity away.
// Cost: 4 bytes read per element, one AND and compare; one dispatch per pass.
override WORKGROUP_SIZE: u32 = 64u;
override CHUNK: u32 = 256u;
override FIRST: bool = true;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn is_non_finite(value: f32) -> bool {
  return (bitcast<u32>(value) & 0x7f800000u) == 0x7f800000u;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let j = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  let parts = (p.n + CHUNK - 1u) / CHUNK;
  if (j >= parts) {
    return;
  }
  var found = false;
  for (var i = j; i < p.n; i += parts) {
    let value = x[i];
    if (FIRST) {
      found = found || is_non_finite(value);
    } else {
      found = found || value != 0.0;
    }
  }
  out[j] = select(0.0, 1.0, found);
}
