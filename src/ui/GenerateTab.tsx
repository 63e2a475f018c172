export function GenerateTab() {
  return (
    <section aria-labelledby="generate-heading">
      <h2 id="generate-heading">Generate</h2>
      <p>
        Type a prompt and get an image in 1 to 4 steps, on your GPU, with nothing leaving your machine. The generator and its
        bundled Shapes models are not in this build yet; the System panel already tells you how this machine will run them.
      </p>
    </section>
  );
}
