// Sum over a set of axes (keeping them as size 1): out[o] = sum over the reduced axes of x.
// Shapes are left-padded to rank 6. keep_k is the output's size on axis k (1 where reduced), red_k the
// input's size on reduced axes (1 elsewhere), stride_k the input's stride. One invocation per output
// element and chunk, looping over `chunk` inputs: no workgroup memory or barriers (expensive on CPU adapters).
// With chunk = count the kernel is only n_out-way parallel, which made a bias gradient at 8,192 rows take
// 1.8 ms on an H200 (sum_to was 55% of a Shapes teacher step); on GPUs reduce.ts splits the reduced range into
// chunks (invocation o + n * c sums chunk c of output o into out[o + n * c]) and sums the partials in a second
// pass. Accumulates in f32 with pairwise blocks of 64 to keep the error near sqrt(count) ulp.
// ONE_AXIS: the reduced elements of an output lie along one axis (a bias gradient summing rows, a gate's summing
// tokens, a batch-broadcast parameter's summing the batch), input r of output o at base + r * red_stride. The
// general path spends 5 integer divisions and remainders per input on the index (scalarised on CPU adapters:
// a bias gradient of [4096, 288] took ~4 ms on llvmpipe); this one a multiply-add.
override WORKGROUP_SIZE: u32 = 64u;
override ONE_AXIS: bool = false;

struct Params {
  n: u32,
  count: u32,
  chunk: u32,
  chunks: u32,
  keep0: u32, keep1: u32, keep2: u32, keep3: u32, keep4: u32, keep5: u32,
  red0: u32, red1: u32, red2: u32, red3: u32, red4: u32, red5: u32,
  stride0: u32, stride1: u32, stride2: u32, stride3: u32, stride4: u32, stride5: u32,
  scale: f32,
  red_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn offset_of(index: u32, s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32) -> u32 {
  var rem = index;
  var c = rem % s5; rem = rem / s5; var off = c * p.stride5;
  c = rem % s4; rem = rem / s4; off += c * p.stride4;
  c = rem % s3; rem = rem / s3; off += c * p.stride3;
  c = rem % s2; rem = rem / s2; off += c * p.stride2;
  c = rem % s1; rem = rem / s1; off += c * p.stride1;
  return off + rem * p.stride0;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (index >= p.n * p.chunks) {
    return;
  }
  let o = index % p.n;
  let first = (index / p.n) * p.chunk;
  let last = min(first + p.chunk, p.count);
  let base = offset_of(o, p.keep0, p.keep1, p.keep2, p.keep3, p.keep4, p.keep5);
  var total = 0.0;
  var j = first;
  loop {
    if (j >= last) { break; }
    var block = 0.0;
    let end = min(j + 64u, last);
    if (ONE_AXIS) {
      for (var r = j; r < end; r++) {
        block += x[base + r * p.red_stride];
      }
    } else {
      for (var r = j; r < end; r++) {
        block += x[base + offset_of(r, p.red0, p.red1, p.red2, p.red3, p.red4, p.red5)];
      }
    }
    total += block;
    j = end;
  }
  out[index] = total * p.scale;
}
