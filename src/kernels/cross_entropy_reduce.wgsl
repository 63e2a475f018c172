// Stage 2 of softmax cross-entropy: the weighted mean over rows of the per-row stats (w_r ce_r, w_r) from
// cross_entropy.wgsl:  loss = sum_r w_r ce_r / max(sum_r w_r, 1),  inverse_denominator = 1 / max(sum_r w_r, 1)
// (saved for the backward). The max keeps a batch whose rows are all masked out at loss 0 instead of 0/0.
// One invocation walks all rows, summing in blocks of 64 (rounding error ~sqrt(64) + rows/64 ulp rather than
// rows ulp). O(rows) serial reads: ~10^4 rows (a large batch of slot heads) is a few microseconds.
struct Params {
  rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> inverse_denominator: array<f32>;

@compute @workgroup_size(1)
fn main() {
  var total = vec2<f32>(0.0, 0.0);
  var r = 0u;
  loop {
    if (r >= p.rows) { break; }
    let block_end = min(r + 64u, p.rows);
    var block = vec2<f32>(0.0, 0.0);
    for (; r < block_end; r++) {
      block += stats[r];
    }
    total += block;
  }
  let inv = 1.0 / max(total.y, 1.0);
  loss[0] = total.x * inv;
  inverse_denominator[0] = inv;
}
