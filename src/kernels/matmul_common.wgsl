// Shared by every matmul kernel (prepended to matmul_register.wgsl, matmul_register_vec4.wgsl and
// matmul_tiled.wgsl by nn/ops/matmul.ts): the Params uniform, the transpose and epilogue switches, the
// batch indexing and the activations of the fused linear epilogue.
//
// C[z] = op(A[za]) @ op(B[zb]) for every batch index z of the output, where op(X) = X or X^T
// (TRANS_A / TRANS_B: A stored [K, M], B stored [N, K]). The output batch index z (workgroup z) is
// split into up to 4 batch dims (batch1..3 are the sizes of the inner three; the outer one is what
// remains of z); a_stride_i / b_stride_i are the element strides of A and B along them, 0 where the
// operand is broadcast. C is dense [batch, M, N].
//
// Epilogue (linear): Z = C + bias[n] (HAS_BIAS), Y = activation(Z); Z is also written to `preact`
// (SAVE_PREACTIVATION) for the backward pass.
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override SAVE_PREACTIVATION: bool = false;
override ACTIVATION: u32 = 0u; // 0: none, 1: GELU (tanh form), 2: SiLU

struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch1: u32, batch2: u32, batch3: u32,
  a_stride0: u32, a_stride1: u32, a_stride2: u32, a_stride3: u32,
  b_stride0: u32, b_stride1: u32, b_stride2: u32, b_stride3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

/** Element offsets of batch z's A and B matrices. */
fn batch_offsets(z: u32) -> vec2<u32> {
  var rem = z;
  var c = rem % p.batch3; rem = rem / p.batch3;
  var a = c * p.a_stride3; var b = c * p.b_stride3;
  c = rem % p.batch2; rem = rem / p.batch2; a += c * p.a_stride2; b += c * p.b_stride2;
  c = rem % p.batch1; rem = rem / p.batch1; a += c * p.a_stride1; b += c * p.b_stride1;
  return vec2<u32>(a + rem * p.a_stride0, b + rem * p.b_stride0);
}

const SQRT_2_OVER_PI = 0.7978845608028654;

/** The activation of the fused epilogue, on 4 outputs of a row. */
fn activate(z: vec4<f32>) -> vec4<f32> {
  switch ACTIVATION {
    case 1u: {
      // GELU, tanh form (Hendrycks & Gimpel 2016, eq. in sec. 2): 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))).
      // tanh is clamped at |u| = 15 (where it is 1 in f32) because some implementations compute it as a
      // ratio of exponentials that overflows to NaN.
      let u = clamp(SQRT_2_OVER_PI * (z + 0.044715 * z * z * z), vec4<f32>(-15.0), vec4<f32>(15.0));
      return 0.5 * z * (1.0 + tanh(u));
    }
    case 2u: {
      // SiLU: z * sigmoid(z); exp(-z) may overflow to inf, giving z / inf = 0, the right limit.
      return z / (1.0 + exp(-z));
    }
    default: {
      return z;
    }
  }
}
