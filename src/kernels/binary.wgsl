// Elementwise binary op with numpy broadcasting: out[i] = a[ia] OP b[ib].
// Shapes are left-padded to rank 6; a stride of 0 repeats an operand along a broadcast dim.
// One invocation per output element; when BROADCAST is false (equal shapes) the index arithmetic is
// skipped. With broadcasting, elementwise.ts first merges the dims the operands walk alike ([B, T, C] * [B, 1, C]
// stays rank 3, [B, T, C] + [T, C] becomes rank 2) and RANK says how many are left: an index costs RANK - 1
// integer divisions and remainders (scalarised on CPU adapters, where 5 of them per element made a broadcast
// multiply cost several times a plain one). Memory bound: 12 bytes moved per element (8 when an operand is
// broadcast and cached).
// The grid may be 2D (grid1d in nn/engine.ts) when there are more than 65535 workgroups.
override OP: u32 = 0u; // 0: a + b, 1: a - b, 2: a * b, 3: b (broadcast b to out's shape; a unused)
override BROADCAST: bool = true;
override RANK: u32 = 6u; // the merged rank (1 to 6): the dims are d(6 - RANK) .. d5
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
    // innermost dim first; the outermost of the RANK dims takes what is left of the index
    var rem = i;
    ia = 0u;
    ib = 0u;
    if (RANK > 1u) { let c = rem % p.d5; rem = rem / p.d5; ia += c * p.a5; ib += c * p.b5; }
    if (RANK > 2u) { let c = rem % p.d4; rem = rem / p.d4; ia += c * p.a4; ib += c * p.b4; }
    if (RANK > 3u) { let c = rem % p.d3; rem = rem / p.d3; ia += c * p.a3; ib += c * p.b3; }
    if (RANK > 4u) { let c = rem % p.d2; rem = rem / p.d2; ia += c * p.a2; ib += c * p.b2; }
    if (RANK > 5u) { let c = rem % p.d1; rem = rem / p.d1; ia += c * p.a1; ib += c * p.b1; }
    switch RANK {
      case 1u: { ia += rem * p.a5; ib += rem * p.b5; }
      case 2u: { ia += rem * p.a4; ib += rem * p.b4; }
      case 3u: { ia += rem * p.a3; ib += rem * p.b3; }
      case 4u: { ia += rem * p.a2; ib += rem * p.b2; }
      case 5u: { ia += rem * p.a1; ib += rem * p.b1; }
      default: { ia += rem * p.a0; ib += rem * p.b0; }
    }
  }
  switch OP {
    case 0u: { out[i] = a[ia] + b[ib]; }
    case 1u: { out[i] = a[ia] - b[ib]; }
    case 2u: { out[i] = a[ia] * b[ib]; }
    default: { out[i] = b[ib]; }
  }
}
