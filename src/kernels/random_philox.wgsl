// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011; constants and round function as in Random123's philox.h).
// Stream: word e of the stream for key (key0, key1) is lane e % 4 of philox((b_lo, b_hi, 0, 0), key),
// b = floor(e / 4) split into 32-bit halves. The output holds words offset .. offset + n - 1: invocation
// j computes block first_block + j once and writes the (up to 4) of its lanes inside the output.
//   OUTPUT 0: the raw u32 words (bit-exact against the JS reference; also for masks).
//   OUTPUT 1: uniform in [0, 1): (word >> 8) * 2^-24, exact in f32.
//   OUTPUT 2: standard normal by Box-Muller on the pair (lanes 0, 1) or (2, 3) of the block:
//     u1 = ((w0 >> 8) + 1) * 2^-24 in (0, 1], u2 = (w1 >> 8) * 2^-24,
//     z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2)
//     with log and sincos from precise_math.wgsl (prepended), so adapters agree to ~1e-6.
// WGSL has no u64: the 32x32 -> 64-bit products are built from 16-bit halves.
// Cost per block of 4 outputs: 10 rounds of 2 wide multiplies (8 u32 multiplies each), plus 2 logs and
// 2 sincos for normals; no memory traffic but the 16 output bytes. One invocation per block, no barriers.
override OUTPUT: u32 = 0u;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  blocks: u32,
  first_block_lo: u32,
  first_block_hi: u32,
  first_lane: u32, // offset % 4: the lane of block first_block that is output element 0
  key0: u32,
  key1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u; // golden ratio
const PHILOX_W1: u32 = 0xBB67AE85u; // sqrt(3) - 1

// (high, low) 32-bit halves of the 64-bit product a * b.
fn mul_hi_lo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let lo_lo = a_lo * b_lo;
  let lo_hi = a_lo * b_hi;
  let hi_lo = a_hi * b_lo;
  let middle = (lo_lo >> 16u) + (lo_hi & 0xffffu) + (hi_lo & 0xffffu); // < 3 * 2^16: no overflow
  let high = a_hi * b_hi + (lo_hi >> 16u) + (hi_lo >> 16u) + (middle >> 16u);
  return vec2<u32>(high, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    if (round > 0u) {
      k += vec2<u32>(PHILOX_W0, PHILOX_W1);
    }
    let p0 = mul_hi_lo(PHILOX_M0, c.x);
    let p1 = mul_hi_lo(PHILOX_M1, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}

const TWO_TO_MINUS_24: f32 = 5.9604644775390625e-8;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let j = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (j >= p.blocks) {
    return;
  }
  let block_lo = p.first_block_lo + j;
  let block_hi = p.first_block_hi + select(0u, 1u, block_lo < j); // carry
  let words = philox4x32_10(vec4<u32>(block_lo, block_hi, 0u, 0u), vec2<u32>(p.key0, p.key1));

  var values = words;
  if (OUTPUT == 1u) {
    values = bitcast<vec4<u32>>(vec4<f32>(words >> vec4<u32>(8u)) * TWO_TO_MINUS_24);
  } else if (OUTPUT == 2u) {
    let u1 = (vec2<f32>(words.xz >> vec2<u32>(8u)) + 1.0) * TWO_TO_MINUS_24;
    let u2 = vec2<f32>(words.yw >> vec2<u32>(8u)) * TWO_TO_MINUS_24;
    let r = vec2<f32>(sqrt(max(-2.0 * precise_log(u1.x), 0.0)), sqrt(max(-2.0 * precise_log(u1.y), 0.0)));
    let a = sincos_turns(u2.x);
    let b = sincos_turns(u2.y);
    values = bitcast<vec4<u32>>(vec4<f32>(r.x * a.y, r.x * a.x, r.y * b.y, r.y * b.x));
  }
  for (var lane = 0u; lane < 4u; lane++) {
    let e = j * 4u + lane; // position relative to the start of first_block
    if (e >= p.first_lane && e - p.first_lane < p.n) {
      out[e - p.first_lane] = values[lane];
    }
  }
}
