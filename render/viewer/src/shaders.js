// The point shaders. Objects are round points whose size falls off with distance (a world
// size, clamped to a few pixels); the pick pass draws the same points, displaced the same
// way, with each point's index + 1 as its colour, so a pixel read names the object drawn
// there. The liquid effect moves each point along the field's gradient at its position
// (the `flow` attribute: unit direction times activation) plus a small swirl, in time, and
// tints it with a hue that follows its depth.

import { ShaderMaterial, AdditiveBlending, NormalBlending } from 'three';

const VERTEX = /* glsl */ `
uniform float uSize;
uniform float uScale;
uniform float uPixelRatio;
uniform float uMinPx;
uniform float uMaxPx;
uniform float uTime;
uniform float uLiquid;
uniform float uAmp;
uniform vec2 uDepth;
attribute vec3 color;
attribute vec4 flow;
varying vec3 vColor;

vec3 hsv(vec3 c) {
  vec3 p = abs(fract(c.xxx + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0);
  return c.z * mix(vec3(1.0), clamp(p - 1.0, 0.0, 1.0), c.y);
}

void main() {
  vec3 p = position;
  float phase = fract(sin(float(gl_VertexID) * 12.9898) * 43758.5453) * 6.2831853;
  if (uLiquid > 0.5) {
    float t = uTime * 2.0 + phase;
    p += uAmp * (flow.xyz * sin(t) + flow.w * 0.35 * vec3(sin(t * 1.3), cos(t), sin(t * 0.7 + 1.0)));
  }
  vec4 mv = modelViewMatrix * vec4(p, 1.0);
  gl_Position = projectionMatrix * mv;
  gl_PointSize = clamp(uSize * uScale / max(-mv.z, 1e-6), uMinPx, uMaxPx) * uPixelRatio;
#ifdef PICK
  float id = float(gl_VertexID + 1);
  vColor = vec3(mod(id, 256.0), mod(floor(id / 256.0), 256.0), floor(id / 65536.0)) / 255.0;
#else
  vColor = color;
  if (uLiquid > 0.5) {
    float d = clamp((-mv.z - uDepth.x) / max(uDepth.y - uDepth.x, 1e-6), 0.0, 1.0);
    vec3 hue = hsv(vec3(fract(0.5 + 0.6 * d + uTime * 0.05), 0.75, 1.0));
    vColor = mix(color, hue, 0.55);
  }
#endif
}
`;

const FRAGMENT = /* glsl */ `
varying vec3 vColor;
void main() {
  vec2 c = gl_PointCoord * 2.0 - 1.0;
  float r2 = dot(c, c);
  if (r2 > 1.0) discard;
#ifdef PICK
  gl_FragColor = vec4(vColor, 1.0);
#else
  gl_FragColor = vec4(vColor * (1.0 - 0.35 * r2), 1.0);
#endif
}
`;

function uniforms() {
  return {
    uSize: { value: 1 },
    uScale: { value: 1 },
    uPixelRatio: { value: 1 },
    uMinPx: { value: 2.5 },
    uMaxPx: { value: 14 },
    uTime: { value: 0 },
    uLiquid: { value: 0 },
    uAmp: { value: 0 },
    uDepth: { value: [0, 1] },
  };
}

/** The material of the objects; `pick` for the picking pass (shares the uniforms' values
 * through `share`). */
export function pointMaterial(pick, share) {
  const m = new ShaderMaterial({
    uniforms: share ? share.uniforms : uniforms(),
    vertexShader: VERTEX,
    fragmentShader: FRAGMENT,
    defines: pick ? { PICK: 1 } : {},
    blending: NormalBlending,
    transparent: false,
    depthTest: true,
    depthWrite: true,
  });
  return m;
}

/** Glow samples of the field: soft additive discs, brighter where the norm is larger. */
export function glowMaterial() {
  return new ShaderMaterial({
    uniforms: { uSize: { value: 1 }, uScale: { value: 1 }, uPixelRatio: { value: 1 } },
    vertexShader: /* glsl */ `
      uniform float uSize;
      uniform float uScale;
      uniform float uPixelRatio;
      attribute float strength;
      varying float vStrength;
      void main() {
        vec4 mv = modelViewMatrix * vec4(position, 1.0);
        gl_Position = projectionMatrix * mv;
        gl_PointSize = clamp(uSize * uScale / max(-mv.z, 1e-6), 2.0, 64.0) * uPixelRatio;
        vStrength = strength;
      }`,
    fragmentShader: /* glsl */ `
      varying float vStrength;
      void main() {
        vec2 c = gl_PointCoord * 2.0 - 1.0;
        float r2 = dot(c, c);
        if (r2 > 1.0) discard;
        float a = exp(-3.0 * r2) * (0.04 + 0.3 * vStrength);
        gl_FragColor = vec4(vec3(0.0, 0.9, 1.0) * a, a);
      }`,
    blending: AdditiveBlending,
    transparent: true,
    depthWrite: false,
  });
}

/** Rings around highlighted objects (the hovered one, a query's results). */
export function ringMaterial(color) {
  return new ShaderMaterial({
    uniforms: { uColor: { value: color }, uPixelRatio: { value: 1 }, uPx: { value: 16 } },
    vertexShader: /* glsl */ `
      uniform float uPixelRatio;
      uniform float uPx;
      void main() {
        gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
        gl_PointSize = uPx * uPixelRatio;
      }`,
    fragmentShader: /* glsl */ `
      uniform vec3 uColor;
      void main() {
        vec2 c = gl_PointCoord * 2.0 - 1.0;
        float r = length(c);
        if (r > 1.0 || r < 0.62) discard;
        gl_FragColor = vec4(uColor, 1.0);
      }`,
    transparent: true,
    depthTest: false,
    depthWrite: false,
  });
}
