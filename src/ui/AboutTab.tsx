export function AboutTab() {
  return (
    <section aria-labelledby="about-heading" className="prose">
      <h2 id="about-heading">About</h2>
      <p>
        senseflow-web generates images from text in 1 to 4 steps in your browser on WebGPU, and lets you distill such a few-step
        model yourself, in the browser, with the method of the SenseFlow paper: <em>Scaling Distribution Matching for
        Flow-based Text-to-Image Distillation</em>.
      </p>
      <h3>The method in three lines</h3>
      <ul>
        <li>
          <strong>Distribution matching (DMD):</strong> the student's samples move along the difference between a frozen
          teacher's score and a "fake" score trained on the student's own samples.
        </li>
        <li>
          <strong>Implicit Distribution Alignment (IDA):</strong> after each student update the fake score is pulled toward the
          student, φ ← λφ + (1 − λ)θ, which keeps the two in step and DMD from oscillating.
        </li>
        <li>
          <strong>Intra-Segment Guidance (ISG):</strong> inside each few-step segment the teacher takes a step and the student
          must land where the teacher's path leads.
        </li>
      </ul>
      <h3>Privacy</h3>
      <p>Everything runs on this device. Models are bundled with the app or loaded from a source you choose; nothing is uploaded.</p>
    </section>
  );
}
