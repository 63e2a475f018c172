export function DistillTab() {
  return (
    <section aria-labelledby="distill-heading">
      <h2 id="distill-heading">Distill</h2>
      <p>
        Watch a few-step student learn from a teacher with the SenseFlow recipe (distribution matching with Implicit
        Distribution Alignment and Intra-Segment Guidance), and switch each part on and off. The playground is not in this
        build yet; it will train on WebGPU with the app's own WGSL kernels.
      </p>
    </section>
  );
}
