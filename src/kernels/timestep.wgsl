// Sinusoidal timestep embedding (DiT's TimestepEmbedder, diffusers' get_timestep_embedding with
// flip_sin_to_cos=True, downscale_freq_shift=0), and its gradient with respect to t.
//   f_i = exp(-ln(max_period) * i / half), i < half = floor(dim / 2);  phi_bi = scale * t_b * f_i
//   out[b, i] = cos(phi_bi),  out[b, half + i] = sin(phi_bi),  out[b, dim - 1] = 0 when dim is odd
//   BACKWARD: dt_b = scale * sum_i f_i (cos(phi_bi) dy[b, half + i] - sin(phi_bi) dy[b, i])
// The host passes the frequencies in turns, g_i = scale * f_i / (2 pi), computed in float64 and rounded
// once, so phi / (2 pi) = t_b * g_i is one f32 product; sin and cos of it come from sincos_turns
// (precise_math.wgsl, prepended), exact range reduction at any phase. What remains is the rounding of
// that product, |phi| * 2^-24 rad (6e-5 at the 1000 rad of sigma = 1 and scale 1000), which PyTorch's
// float32 embedding has too.
// Layout: t f32 [batch], g f32 [half], dy and out f32 [batch, dim] (out is dt, [batch], backward).
// Forward: one invocation per output element (one sincos each); backward: one invocation per batch
// element looping over half (no barriers). The forward binds t in dy's slot (unread there) so both
// directions share one binding layout.
override BACKWARD: bool = false;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  dim: u32,
  half_dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const TWO_PI: f32 = 6.283185307179586;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  if (BACKWARD) {
    let row = i * p.dim;
    var total = 0.0;
    for (var k = 0u; k < p.half_dim; k++) {
      let sc = sincos_turns(t[i] * g[k]);
      total += g[k] * (sc.y * dy[row + p.half_dim + k] - sc.x * dy[row + k]);
    }
    out[i] = TWO_PI * total; // d(phi)/dt = 2 pi g_i
  } else {
    let b = i / p.dim;
    let j = i % p.dim;
    var value = 0.0;
    if (j < p.half_dim) {
      value = sincos_turns(t[b] * g[j]).y;
    } else if (j < 2u * p.half_dim) {
      value = sincos_turns(t[b] * g[j - p.half_dim]).x;
    }
    out[i] = value;
  }
}
