// Gradient of an embedding lookup: dtable[v, d] = sum over positions q with ids[q] == v of dy[q, d].
// Many positions may share an id and WGSL has no f32 atomics, so instead of scattering, each row of
// dtable gathers its positions through a linked list built on the GPU, in three passes (PASS):
//   0 clear:      head[v] = END                                        one invocation per vocab row
//   1 link:       next[q] = the first r > q with ids[r] == ids[q], else END;
//                 if no r < q has ids[r] == ids[q] (q is the first) and ids[q] < vocab: head[ids[q]] = q
//                                                                      one invocation per position
//   2 accumulate: dtable[v, d] = dy[head[v], d] + dy[next[head[v]], d] + ...   one per (v, d)
// Each head is written by exactly one invocation (the id's first position), so there are no races,
// and the sums run in position order: the result is deterministic. Ids >= vocab get no head, so their
// rows of dy are dropped (the forward gave them zeros).
// Cost: clear V; link scans from q forward to the next occurrence and back to the previous one, at most
// N * (number of distinct ids + 1) u32 compares (N^2 when all ids differ); accumulate (V + N) * D reads.
// Layout: head u32 [V], ids u32 [N], next u32 [N], dy f32 [N, D], dtable f32 [V, D]. Every pass binds
// all five (one binding layout for the kernel), even those it does not touch.
override PASS: u32 = 0u;
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  vocab: u32,
  positions: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> head: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> next: array<u32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dtable: array<f32>;

const END: u32 = 0xffffffffu;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  if (PASS == 0u) {
    head[i] = END;
  } else if (PASS == 1u) {
    let id = ids[i];
    var following = END;
    for (var r = i + 1u; r < p.positions; r++) {
      if (ids[r] == id) {
        following = r;
        break;
      }
    }
    next[i] = following;
    var first = id < p.vocab;
    for (var r = i; r > 0u && first; r--) {
      first = ids[r - 1u] != id;
    }
    if (first) {
      head[id] = i;
    }
  } else {
    let d = i % p.dim;
    var q = head[i / p.dim];
    var total = 0.0;
    while (q < p.positions) { // END (and any index past the positions) ends the list
      total += dy[q * p.dim + d];
      q = next[q];
    }
    dtable[i] = total;
  }
}
