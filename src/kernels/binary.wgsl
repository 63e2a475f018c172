// Elementwise binary op with numpy broadcasting: out[i] = a[ia] OP b[ib].
// Shapes are left-padded to rank 6; a stride of 0 repeats an operand along a broadcast dim.
// One invocation per output element; when BROADCAST is false (equal shapes) the index arithmetic is
// skipped. Memory bound: 12 bytes moved per element (8 when an operand is broadcast and cached).
// The grid may be 2D (grid1d in nn/engine.ts) when there are more than 65535 workgroups.
override OP: u32 = 0u; // 0: a + b, 1: a - b, 2: a * b, 3: b (broadcast b to out's shape; a unused)
override BROADCAST: bool = true;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
  a0: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32,
  b0: u32, b1: u32, b2: u32, b3: u32, b4: u32, b5: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  var ia = i;
  var ib = i;
  if (BROADCAST) {
    var rem = i;
    var c = rem % p.d5; rem = rem / p.d5; ia = c * p.a5; ib = c * p.b5;
    c = rem % p.d4; rem = rem / p.d4; ia += c * p.a4; ib += c * p.b4;
    c = rem % p.d3; rem = rem / p.d3; ia += c * p.a3; ib += c * p.b3;
    c = rem % p.d2; rem = rem / p.d2; ia += c * p.a2; ib += c * p.b2;
    c = rem % p.d1; rem = rem / p.d1; ia += c * p.a1; ib += c * p.b1;
    ia += rem * p.a0; ib += rem * p.b0;
  }
  switch OP {
    case 0u: { out[i] = a[ia] + b[ib]; }
    case 1u: { out[i] = a[ia] - b[ib]; }
    case 2u: { out[i] = a[ia] * b[ib]; }
    default: { out[i] = b[ib]; }
  }
}
