// Embedding lookup (gather): out[q, d] = table[ids[q], d] for q < positions, d < dim.
// Layout: ids u32 [positions] (any leading shape, flattened), table f32 [vocab, dim] row-major,
// out f32 [positions, dim]. An id >= vocab reads nothing and yields a zero row (the host cannot see
// the ids without a GPU round trip, so the kernel is where out-of-range ids are made harmless).
// One invocation per output element; memory bound: 8 bytes per element (+4 for the id, cached).
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  vocab: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  let id = ids[i / p.dim];
  var value = 0.0;
  if (id < p.vocab) {
    value = table[id * p.dim + i % p.dim];
  }
  out[i] = value;
}
