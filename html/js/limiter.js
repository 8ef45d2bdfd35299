// limiter.js: keeps what the page plays within full scale.
//
// The mix the server sends can go past 1.0. Its metronome click is a single
// sample of 1.0, raised to 1.5 where nobody sings (the mix gain for no
// singers), and such an impulse rings higher still through Opus: at a
// leader's output in Firefox the clicks peaked at 1.06 to 1.24. A full choir
// can sum past 1 as well. Past full scale the sound card clips hard. So the
// output goes through a soft clipper: samples up to KNEE pass unchanged;
// larger ones bend smoothly (a tanh with slope 1 at the knee) towards 1.0,
// which they approach but do not pass, for inputs up to HEADROOM; only
// beyond HEADROOM does it clip, at the curve's end.
//
// It is made of Web Audio's own nodes: a GainNode scales by 1 / HEADROOM,
// because a WaveShaperNode's curve spans inputs from -1 to 1, then the
// WaveShaperNode. No script runs on the audio thread for it, and without
// oversampling it adds no latency.

export const KNEE = 0.8;
export const HEADROOM = 2;
// Curve points: a power of two plus one puts every point on an exact binary
// fraction (steps of HEADROOM / 4096), so the identity part stays exact.
const POINTS = 8193;

/** The clipper's response to one sample u: identity up to KNEE, then soft. */
export function softClip(u) {
  const a = Math.abs(u);
  if (a <= KNEE) return u;
  return Math.sign(u) * (KNEE + (1 - KNEE) * Math.tanh((a - KNEE) / (1 - KNEE)));
}

/**
 * The WaveShaperNode curve: softClip over inputs -HEADROOM..HEADROOM
 * (after the GainNode's 1 / HEADROOM, the node's -1..1).
 */
export function limiterCurve(points = POINTS) {
  const c = new Float32Array(points);
  for (let i = 0; i < points; i++) c[i] = softClip(HEADROOM * ((2 * i) / (points - 1) - 1));
  return c;
}

/**
 * Builds the limiter in ctx: connect a source to .input and .output on to
 * the destination.
 */
export function createLimiter(ctx) {
  const input = ctx.createGain();
  input.gain.value = 1 / HEADROOM;
  const output = ctx.createWaveShaper();
  output.curve = limiterCurve();
  output.oversample = 'none';
  input.connect(output);
  return { input, output };
}
