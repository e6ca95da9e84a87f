// Seeded facesjs faces as JSON lines: {"seed", "gender", "race", "color_svg", "line_svg"}.
//
//   node facesjs_render.mjs PREFIX FIRST_SEED COUNT
//
// PREFIX is an `npm install facesjs` prefix: the package is imported from its node_modules, so
// this script can live anywhere (ES modules ignore NODE_PATH). facesjs draws with Math.random;
// it is replaced by a seeded PRNG (mulberry32) for each face, so a seed is the same face on
// every machine and run; gender and race come from the same PRNG.
//
// The line art is the same face drawn from line versions of facesjs's human-drawn SVG parts.
// Each part's paint is rewritten (geometry, transforms and stroke widths untouched, so both
// faces are assembled identically), deciding from the part's own literal colors:
//   - opaque near-black paint (#000, #333, an unset fill, which SVG paints black) is ink:
//     the outline strokes, and the parts drawn as black shapes (pupils, black eyebrows, the
//     black rims drawn under colored shapes, mouths' dark insides);
//   - other opaque paint (skin, hair, team colors, white eyes, as literal colors or $[...]
//     template colors) becomes paper (#fff): it still hides what it hides in the colored face,
//     so a stroke that a later part covers (the head outline under the hair, the ear behind the
//     head, the body behind the jersey) stays hidden: the sketch has the lines the colors show;
//   - translucent paint (shading, stubble, blush, freckles, gradients, glass lenses) is removed.
// Without the paper fills (fill="none" everywhere) every covered stroke would show through.

import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [prefix, firstArg, countArg] = process.argv.slice(2);
if (!prefix || firstArg === undefined || countArg === undefined) {
  process.stderr.write("usage: node facesjs_render.mjs PREFIX FIRST_SEED COUNT\n");
  process.exit(2);
}
const first = Number(firstArg);
const count = Number(countArg);
if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0) {
  process.stderr.write(`bad seeds: ${firstArg} ${countArg}\n`);
  process.exit(2);
}

const require = createRequire(join(prefix, "package.json"));
const facesjs = await import(pathToFileURL(require.resolve("facesjs")).href);
const { generate, faceToSvgString, svgs } = facesjs;

// mulberry32: a tiny 32-bit PRNG, enough to pick parts and proportions.
const mulberry32 = (seed) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const GENDERS = ["male", "female"];
const RACES = ["white", "black", "brown", "asian"];
const SHAPES = new Set(["path", "ellipse", "circle", "rect", "polygon", "polyline", "line"]);
const INK = "#000";
const PAPER = "#fff";
// Near-black: every channel at most this (#333 glasses frames are ink, #501414 is not).
const INK_MAX = 0x40;
const PAINT_KEYS = new Set(["fill", "fill-opacity", "stroke", "stroke-opacity"]);

const TAG =
  /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([A-Za-z][\w:.-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
const ATTR = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

const parseAttrs = (text) => [...text.matchAll(ATTR)].map((m) => [m[1], m[2] ?? m[3]]);
const parseStyle = (text) =>
  text
    .split(";")
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => {
      const i = d.indexOf(":");
      return i < 0 ? [d, ""] : [d.slice(0, i).trim(), d.slice(i + 1).trim()];
    });
const num = (v) => {
  const x = Number.parseFloat(v);
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 1;
};

// A paint value -> {kind: "none" | "paint" | "shade", rgb: [r, g, b] | null, alpha}, or null
// when the value is not a valid paint (CSS then ignores the declaration: the parent's applies).
const SHAVE = /^\$\[(faceShave|headShave)\]$/; // rgba(0,0,0,x) stubble, translucent
const parsePaint = (raw) => {
  const v = raw.replace(/\s+/g, "").toLowerCase();
  if (v === "none" || v === "transparent") return { kind: "none", rgb: null, alpha: 0 };
  if (SHAVE.test(raw.trim())) return { kind: "shade", rgb: [0, 0, 0], alpha: 0 };
  if (/^\$\[\w+\]$/.test(raw.trim())) return { kind: "paint", rgb: null, alpha: 1 }; // a chosen color
  if (v.startsWith("url(")) return { kind: "shade", rgb: null, alpha: 0 }; // gradients: shading
  if (v === "black") return { kind: "paint", rgb: [0, 0, 0], alpha: 1 };
  if (v === "white") return { kind: "paint", rgb: [255, 255, 255], alpha: 1 };
  let m = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/.exec(v);
  if (m) {
    let h = m[1];
    if (h.length <= 4) h = [...h].map((c) => c + c).join("");
    const ch = [0, 2, 4, 6].map((i) => Number.parseInt(h.slice(i, i + 2) || "ff", 16));
    return { kind: "paint", rgb: ch.slice(0, 3), alpha: ch[3] / 255 };
  }
  m = /^rgba?\(([\d.]+),([\d.]+),([\d.]+)(?:,([\d.]+))?\)$/.exec(v);
  if (m) return { kind: "paint", rgb: [m[1], m[2], m[3]].map(Number), alpha: m[4] === undefined ? 1 : num(m[4]) };
  if (/^[a-z]+$/.test(v)) return { kind: "paint", rgb: null, alpha: 1 }; // another named color
  return null;
};

// What one effective paint becomes in the line art.
const linePaint = (paint, alpha) => {
  if (paint.kind === "none") return "none";
  if (paint.kind === "shade" || paint.alpha * alpha < 0.99) return "none";
  if (paint.rgb && Math.max(...paint.rgb) <= INK_MAX) return INK;
  return PAPER;
};

// The line version of one facesjs part (an SVG fragment; see the header for the rules).
const lineArt = (svg) => {
  const black = parsePaint("#000");
  const none = parsePaint("none");
  // Inherited per open element: fill, stroke, their opacities, the product of opacity, <defs>.
  const stack = [{ fill: black, stroke: none, fillOpacity: 1, strokeOpacity: 1, opacity: 1, defs: false }];
  let out = "";
  let last = 0;
  for (const m of svg.matchAll(TAG)) {
    out += svg.slice(last, m.index);
    last = m.index + m[0].length;
    const [whole, closing, tag, attrText, selfClosing] = m;
    if (tag === undefined) {
      out += whole; // a comment
      continue;
    }
    if (closing) {
      if (stack.length > 1) stack.pop();
      out += whole;
      continue;
    }
    const parent = stack[stack.length - 1];
    const attrs = parseAttrs(attrText);
    const props = new Map();
    for (const [k, v] of attrs) if (k !== "style") props.set(k, v); // presentation attributes
    for (const [k, v] of attrs) if (k === "style") for (const [sk, sv] of parseStyle(v)) props.set(sk, sv);
    const paintOf = (key) => (props.has(key) ? parsePaint(props.get(key)) : null) ?? parent[key];
    const state = {
      fill: paintOf("fill"),
      stroke: paintOf("stroke"),
      fillOpacity: props.has("fill-opacity") ? num(props.get("fill-opacity")) : parent.fillOpacity,
      strokeOpacity: props.has("stroke-opacity") ? num(props.get("stroke-opacity")) : parent.strokeOpacity,
      opacity: parent.opacity * (props.has("opacity") ? num(props.get("opacity")) : 1),
      defs: parent.defs || tag === "defs",
    };
    if (!selfClosing) stack.push(state);
    if (state.defs) {
      out += whole;
      continue;
    }
    // Paint is dropped everywhere (groups too) and every shape gets its line paint explicitly.
    const kept = [];
    for (const [k, v] of attrs) {
      if (PAINT_KEYS.has(k)) continue;
      if (k === "style") {
        const decls = parseStyle(v).filter(([sk]) => !PAINT_KEYS.has(sk));
        if (decls.length) kept.push([k, decls.map(([sk, sv]) => `${sk}:${sv}`).join(";")]);
        continue;
      }
      kept.push([k, v]);
    }
    if (SHAPES.has(tag)) {
      kept.push(["fill", linePaint(state.fill, state.fillOpacity * state.opacity)]);
      kept.push(["stroke", linePaint(state.stroke, state.strokeOpacity * state.opacity)]);
    }
    out += `<${tag}${kept.map(([k, v]) => ` ${k}="${v}"`).join("")}${selfClosing ? "/" : ""}>`;
  }
  return out + svg.slice(last);
};

const colorParts = {};
const lineParts = {};
for (const [feature, parts] of Object.entries(svgs)) {
  colorParts[feature] = parts;
  lineParts[feature] = Object.fromEntries(Object.entries(parts).map(([id, s]) => [id, lineArt(s)]));
}
const drawWith = (parts, face) => {
  Object.assign(svgs, parts);
  // display() edits the face it draws (a hat swaps the hair id), so each drawing gets a copy.
  return faceToSvgString(structuredClone(face));
};

const realRandom = Math.random;
const lines = [];
try {
  for (let seed = first; seed < first + count; seed++) {
    const rand = mulberry32(seed);
    Math.random = rand;
    const gender = GENDERS[Math.floor(rand() * GENDERS.length)];
    const race = RACES[Math.floor(rand() * RACES.length)];
    const face = generate(undefined, { gender, race });
    const color_svg = drawWith(colorParts, face);
    const line_svg = drawWith(lineParts, face);
    lines.push(JSON.stringify({ seed, gender, race, color_svg, line_svg }));
    if (lines.length >= 64) process.stdout.write(lines.splice(0).join("\n") + "\n");
  }
} finally {
  Math.random = realRandom;
  Object.assign(svgs, colorParts);
}
if (lines.length) process.stdout.write(lines.join("\n") + "\n");
