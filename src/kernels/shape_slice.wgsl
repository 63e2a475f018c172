// Block copies along one axis, for slice, concat and their gradients. Both tensors are viewed as
// [rows, cols] where rows = the product of the dims before the axis and cols = (size along the axis) *
// (product of the dims after it); the copied window is shifted by `shift` columns:
//   PLACE false (gather, one invocation per output element, n = rows * out_cols):
//     out[r, c] = x[r, c - shift] if 0 <= c - shift < in_cols, else 0
//     slice: shift = -start * inner;  slice's gradient (zero padding): shift = +start * inner.
//   PLACE true (scatter, one invocation per input element, n = rows * in_cols):
//     out[r, c + shift] = x[r, c], other elements of out untouched
//     concat: one dispatch per input, shift = (offset of that input along the axis) * inner.
// Words are copied as u32 (dtype-agnostic, bit-exact; 0u is 0.0f). Memory bound: 8 bytes per element.
override PLACE: bool = false;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  in_cols: u32,
  out_cols: u32,
  shift: i32,
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
  if (PLACE) {
    let r = i / p.in_cols;
    let c = i32(i % p.in_cols) + p.shift;
    out[r * p.out_cols + u32(c)] = x[i];
  } else {
    let r = i / p.out_cols;
    let c = i32(i % p.out_cols) - p.shift;
    var value = 0u;
    if (c >= 0 && c < i32(p.in_cols)) {
      value = x[r * p.in_cols + u32(c)];
    }
    out[i] = value;
  }
}
