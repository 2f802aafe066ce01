// PDQ (Meta's perceptual photo hash), a port of the reference C++ (pdqhashing.cpp) for the
// offline hashing page. Input: RGB(A) pixels; output: 64 hex characters + quality, in the
// order ThreatExchange writes them. Agrees with the Python path (Meta's C++) on the same pixels.
"use strict";
const PDQ = (() => {
  const DIM = 64;
  const DCT = (() => {  // 16 x 64: D[i][j] = sqrt(2/64) cos(pi/128 (i+1)(2j+1))
    const d = new Float64Array(16 * DIM);
    const scale = Math.sqrt(2 / DIM);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < DIM; j++) d[i * DIM + j] = scale * Math.cos((Math.PI / 2 / DIM) * (i + 1) * (2 * j + 1));
    }
    return d;
  })();

  function windowSize(oldDim, newDim) {
    return Math.floor((oldDim + 2 * newDim - 1) / (2 * newDim));
  }

  function box1D(input, output, start, length, stride, fullWindow) {
    const half = Math.floor((fullWindow + 2) / 2);
    const p1 = half - 1, p2 = fullWindow - half + 1, p3 = length - fullWindow, p4 = half - 1;
    let li = start, ri = start, oi = start, sum = 0, n = 0;
    for (let i = 0; i < p1; i++) { sum += input[ri]; n++; ri += stride; }
    for (let i = 0; i < p2; i++) { sum += input[ri]; n++; output[oi] = sum / n; ri += stride; oi += stride; }
    for (let i = 0; i < p3; i++) { sum += input[ri]; sum -= input[li]; output[oi] = sum / n; li += stride; ri += stride; oi += stride; }
    for (let i = 0; i < p4; i++) { sum -= input[li]; n--; output[oi] = sum / n; li += stride; oi += stride; }
  }

  function jarosz(buf, tmp, rows, cols, winRows, winCols) {
    for (let rep = 0; rep < 2; rep++) {
      for (let i = 0; i < rows; i++) box1D(buf, tmp, i * cols, cols, 1, winRows);
      for (let j = 0; j < cols; j++) box1D(tmp, buf, j, rows, cols, winCols);
    }
  }

  function median(values) {
    const sorted = Float64Array.from(values).sort();
    // Torben's median as in the C++: the lower middle value for an even count.
    return sorted[(sorted.length - 1) >> 1];
  }

  // pixels: Uint8ClampedArray/Uint8Array with `channels` values per pixel (3 = RGB, 4 = RGBA).
  function hash(pixels, width, height, channels) {
    const n = width * height;
    const luma = new Float64Array(n);
    for (let p = 0, k = 0; p < n; p++, k += channels) {
      luma[p] = 0.299 * pixels[k] + 0.587 * pixels[k + 1] + 0.114 * pixels[k + 2];
    }
    const tmp = new Float64Array(n);
    // The C++ names: window "along rows" uses the column count and vice versa.
    jarosz(luma, tmp, height, width, windowSize(width, DIM), windowSize(height, DIM));
    const small = new Float64Array(DIM * DIM);
    for (let i = 0; i < DIM; i++) {
      const ini = Math.floor(((i + 0.5) * height) / DIM);
      for (let j = 0; j < DIM; j++) {
        const inj = Math.floor(((j + 0.5) * width) / DIM);
        small[i * DIM + j] = luma[ini * width + inj];
      }
    }
    // Quality: summed neighbour differences in percent of full scale, each truncated (as the C++).
    let gradient = 0;
    for (let i = 0; i < DIM - 1; i++) {
      for (let j = 0; j < DIM; j++) gradient += Math.abs(Math.trunc(((small[i * DIM + j] - small[(i + 1) * DIM + j]) * 100) / 255));
    }
    for (let i = 0; i < DIM; i++) {
      for (let j = 0; j < DIM - 1; j++) gradient += Math.abs(Math.trunc(((small[i * DIM + j] - small[i * DIM + j + 1]) * 100) / 255));
    }
    const quality = Math.min(100, Math.floor(gradient / 90));
    // B = D A D^T (16 x 16)
    const t = new Float64Array(16 * DIM);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < DIM; j++) {
        let s = 0;
        for (let k = 0; k < DIM; k++) s += DCT[i * DIM + k] * small[k * DIM + j];
        t[i * DIM + j] = s;
      }
    }
    const b = new Float64Array(256);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 16; j++) {
        let s = 0;
        for (let k = 0; k < DIM; k++) s += t[i * DIM + k] * DCT[j * DIM + k];
        b[i * 16 + j] = s;
      }
    }
    const med = median(b);
    const words = new Uint16Array(16);  // bit k lives in word k >> 4, position k & 15
    for (let k = 0; k < 256; k++) if (b[k] > med) words[k >> 4] |= 1 << (k & 15);
    let hex = "";
    for (let w = 15; w >= 0; w--) hex += words[w].toString(16).padStart(4, "0");
    return { hash: hex, quality };
  }

  return { hash };
})();
if (typeof module !== "undefined") module.exports = PDQ;
