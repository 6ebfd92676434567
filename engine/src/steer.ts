/**
 * The experimental prompt steer (README.md, "The prompt steer (experimental)"). SVD conditions on the CLIP image
 * embedding only; OpenCLIP ViT-H/14's text tower embeds text into the same space, so the image embedding
 * can be turned toward the prompt's text embedding. SVD was never trained with text: this is a nudge in
 * CLIP space, not text-to-video, and what it does to a video varies.
 *
 *   e' = |e| · normalize((1 − s) · ê + s · t̂),   ê = e/|e|, t̂ = t/|t|
 *
 * The norm of e is kept, so the UNet sees an embedding of the size it was trained on.
 */

/** e' for steer `s` in (0, 1]; computed in float64, rounded once to float32. */
export function steerEmbedding(image: Float32Array, text: Float32Array, s: number): Float32Array {
  if (image.length !== text.length) {
    throw new Error(`steer: image embedding has ${image.length} dims, text embedding ${text.length}`);
  }
  const imageNorm = norm(image);
  const textNorm = norm(text);
  const mix = new Float64Array(image.length);
  for (let k = 0; k < mix.length; k++) mix[k] = ((1 - s) * image[k]!) / imageNorm + (s * text[k]!) / textNorm;
  const scale = imageNorm / norm(mix);
  const out = new Float32Array(image.length);
  for (let k = 0; k < out.length; k++) out[k] = mix[k]! * scale;
  return out;
}

function norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let k = 0; k < v.length; k++) sum += v[k]! * v[k]!;
  return Math.sqrt(sum);
}
