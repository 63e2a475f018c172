// Gradient clipping by global norm, in place, with the norm read on the GPU (no readback stalls the
// training step): g <- g * min(1, max_norm / (norm + 1e-6)), the rule of torch.nn.utils.clip_grad_norm_.
// `total_norm` is the one-element output of the grad_norm passes. Below the threshold the factor is
// exactly 1 and nothing is written. A NaN norm leaves g as it is (the caller skips the step on it); an
// infinite norm zeroes g.
// Layout: grad is a flat array of n f32. One invocation per element: 4 bytes read and 4 written.
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  n: u32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> total_norm: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= p.n) {
    return;
  }
  let factor = p.max_norm / (total_norm[0] + 1e-6);
  if (factor < 1.0) {
    grad[i] = grad[i] * factor;
  }
}
