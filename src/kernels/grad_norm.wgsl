// One pass of a global L2 norm: the sum of squares of many tensors, reduced in passes of CHUNK to one.
//   first pass (SQUARE), once per tensor:  out[out_offset + j] = sum over k < CHUNK of d[j + k * parts]^2
//     with d = x (gradNorm; y is bound to x too) or, with DIFFERENCE, d = x - y (parameterDistance)
//   later passes, over the partial sums:    out[out_offset + j] = sum over k < CHUNK of x[j + k * parts]
//   last pass (SQRT, parts = 1):            out[out_offset] = sqrt(sum of x)
// with parts = ceil(n / CHUNK) invocations, so every element is read by exactly one invocation. The
// stride of `parts` makes neighbouring invocations read neighbouring addresses (coalesced on a GPU).
// No workgroup memory or barriers (they are slow on CPU adapters); the price is one dispatch per pass.
// Cost: 4 bytes read (8 with DIFFERENCE) and one multiply-add per element; f32 sums of at most CHUNK
// terms per level, so the rounding error grows like sqrt(CHUNK) ulp per level, not with the total count.
override WORKGROUP_SIZE: u32 = 64u;
override CHUNK: u32 = 256u;
override SQUARE: bool = true;
override SQRT: bool = false;
override DIFFERENCE: bool = false;

struct Params {
  n: u32,
  out_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let j = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  let parts = (p.n + CHUNK - 1u) / CHUNK;
  if (j >= parts) {
    return;
  }
  var total = 0.0;
  for (var i = j; i < p.n; i += parts) {
    var value = x[i];
    if (DIFFERENCE) {
      value -= y[i];
    }
    if (SQUARE) {
      total += value * value;
    } else {
      total += value;
    }
  }
  if (SQRT) {
    total = sqrt(total);
  }
  out[p.out_offset + j] = total;
}
