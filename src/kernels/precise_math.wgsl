// Accurate f32 sin/cos and log, prepended (as text) to the kernels that need them (timestep.wgsl,
// random_philox.wgsl by nn/ops/timestep.ts and nn/ops/random.ts). WGSL bounds the built-in sin/cos
// error only by 2^-11 absolute (SwiftShader's is ~2e-4) and log near 1 by 2^-21 absolute, which would
// make results differ between adapters by far more than rounding; these make them agree to a few ulp.
// Polynomials: Cephes sinf/cosf (minimax on [-pi/4, pi/4]) and logf (on [sqrt(1/2) - 1, sqrt(2) - 1]).
// Nothing here needs workgroup memory or barriers.

// (sin(2 pi u), cos(2 pi u)) for u in turns. The quadrant q = round(4u) and r = 4u - q in [-1/2, 1/2]
// are exact in f32 (4u is a power-of-two scaling, then Sterbenz), so the only rounding before the
// polynomials is r * pi/2: |error| <~ 2e-7 for any u. Where the phase comes as a product t * g, the
// rounding of that product (|u| * 2^-24 turns) is the caller's and usually dominates.
fn sincos_turns(u: f32) -> vec2<f32> {
  let q = round(4.0 * u);
  let r = (4.0 * u - q) * 1.5707963267948966;
  let z = r * r;
  let s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
  let c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
  let quadrant = q - 4.0 * floor(q * 0.25); // q mod 4, exact for any f32 q
  if (quadrant == 0.0) {
    return vec2<f32>(s, c);
  }
  if (quadrant == 1.0) {
    return vec2<f32>(c, -s); // sin(a + pi/2) = cos a, cos(a + pi/2) = -sin a
  }
  if (quadrant == 2.0) {
    return vec2<f32>(-s, -c);
  }
  return vec2<f32>(-c, s);
}

// Natural log of a positive normal x (Cephes logf): x = m 2^e with m in [sqrt(1/2), sqrt(2)); m - 1 is
// exact, so log(x) stays accurate to ~1 ulp near x = 1, where the built-in may be off by 2^-21.
fn precise_log(x: f32) -> f32 {
  let parts = frexp(x); // x = fract * 2^exp, fract in [0.5, 1)
  var e = f32(parts.exp);
  var m = parts.fract;
  if (m < 0.70710678118654752) {
    e -= 1.0;
    m = m + m - 1.0;
  } else {
    m = m - 1.0;
  }
  let z = m * m;
  var y = ((((((((7.0376836292e-2 * m - 1.1514610310e-1) * m + 1.1676998740e-1) * m - 1.2420140846e-1) * m
    + 1.4249322787e-1) * m - 1.6668057665e-1) * m + 2.0000714765e-1) * m - 2.4999993993e-1) * m + 3.3333331174e-1) * m * z;
  y += -2.12194440e-4 * e; // ln 2 = 0.693359375 - 2.12194440e-4, the first part exact in 9 bits
  y += -0.5 * z;
  return (m + y) + 0.693359375 * e;
}
