// The field in the scene: a heat-map slice on a plane, the glow samples and the field
// lines, built from a Field (field.js).

import {
  AdditiveBlending,
  BufferAttribute,
  BufferGeometry,
  DataTexture,
  DoubleSide,
  LinearFilter,
  LineBasicMaterial,
  LineSegments,
  Matrix4,
  Mesh,
  MeshBasicMaterial,
  PlaneGeometry,
  Points,
  RGBAFormat,
  UnsignedByteType,
  Vector3,
} from 'three';
import { inferno } from './colors.js';
import { glowMaterial } from './shaders.js';

// The plane's (u, v, normal) in world axes for a slice across each axis; (u, v) follow
// Field.slice's order.
const BASES = {
  x: [new Vector3(0, 1, 0), new Vector3(0, 0, 1), new Vector3(1, 0, 0)],
  y: [new Vector3(1, 0, 0), new Vector3(0, 0, 1), new Vector3(0, -1, 0)],
  z: [new Vector3(1, 0, 0), new Vector3(0, 1, 0), new Vector3(0, 0, 1)],
};

export class FieldView {
  constructor(field, scene) {
    this.field = field;
    this.scene = scene;
    const R = field.resolution;
    const size = 2 * field.bounds;
    this.texture = new DataTexture(new Uint8Array(4 * R * R), R, R, RGBAFormat, UnsignedByteType);
    this.texture.magFilter = LinearFilter;
    this.texture.minFilter = LinearFilter;
    this.plane = new Mesh(
      new PlaneGeometry(size, size),
      new MeshBasicMaterial({ map: this.texture, transparent: true, side: DoubleSide, depthWrite: false }),
    );
    this.plane.renderOrder = 1;
    this.plane.visible = false;
    scene.add(this.plane);
    this.glow = null;
    this.lines = null;
    this.axis = 'z';
    this.index = R >> 1;
    this.scale = 1;
    this.pixelRatio = 1;
  }

  /** Shows the slice through cell `index` of `axis`, or hides it (`axis` null). */
  setSlice(axis, index) {
    if (!axis) {
      this.plane.visible = false;
      return;
    }
    const f = this.field;
    const R = f.resolution;
    this.axis = axis;
    this.index = Math.min(Math.max(index, 0), R - 1);
    const values = f.slice(axis, this.index);
    const data = this.texture.image.data;
    const max = f.maxNorm || 1;
    const c = [0, 0, 0];
    for (let k = 0; k < values.length; k++) {
      const t = values[k] / max;
      inferno(t, c);
      data[4 * k] = c[0];
      data[4 * k + 1] = c[1];
      data[4 * k + 2] = c[2];
      data[4 * k + 3] = values[k] > 0 ? Math.round(255 * (0.3 + 0.6 * Math.min(t * 1.5, 1))) : 0;
    }
    this.texture.needsUpdate = true;
    const [u, v, n] = BASES[axis];
    this.plane.quaternion.setFromRotationMatrix(new Matrix4().makeBasis(u, v, n));
    this.plane.position.set(0, 0, 0).setComponent('xyz'.indexOf(axis), f.center(this.index));
    this.plane.visible = true;
  }

  /** Shows or hides the glow samples (built on first show). */
  setGlow(on) {
    if (on && !this.glow) {
      const { positions, strengths } = this.field.glowSamples(6000, 0.1);
      const g = new BufferGeometry();
      g.setAttribute('position', new BufferAttribute(positions, 3));
      g.setAttribute('strength', new BufferAttribute(strengths, 1));
      const m = glowMaterial();
      // About the lattice's spacing, so the discs merge into a glow.
      m.uniforms.uSize.value = this.field.cell * Math.max(2, Math.cbrt(this.field.resolution ** 3 / 24000)) * 1.5;
      m.uniforms.uScale.value = this.scale;
      m.uniforms.uPixelRatio.value = this.pixelRatio;
      this.glow = new Points(g, m);
      this.glow.renderOrder = 2;
      this.glow.frustumCulled = false;
      this.scene.add(this.glow);
    }
    if (this.glow) this.glow.visible = on;
  }

  /** Shows or hides the field lines (traced on first show). */
  setLines(on) {
    if (on && !this.lines) {
      const { positions, values } = this.field.fieldLines();
      const colors = new Float32Array(positions.length);
      for (let k = 0; k < values.length; k++) {
        const t = Math.min(values[k], 1);
        colors[3 * k] = 0.2 + 0.8 * t;
        colors[3 * k + 1] = 0.75 + 0.25 * t;
        colors[3 * k + 2] = 1.0;
      }
      const g = new BufferGeometry();
      g.setAttribute('position', new BufferAttribute(positions, 3));
      g.setAttribute('color', new BufferAttribute(colors, 3));
      const m = new LineBasicMaterial({
        vertexColors: true,
        transparent: true,
        opacity: 0.35,
        blending: AdditiveBlending,
        depthWrite: false,
      });
      this.lines = new LineSegments(g, m);
      this.lines.frustumCulled = false;
      this.lines.renderOrder = 3;
      this.scene.add(this.lines);
    }
    if (this.lines) this.lines.visible = on;
  }

  /** Keeps the glow samples' size right for the view (pixels per world unit at depth 1). */
  setScale(scale, pixelRatio) {
    this.scale = scale;
    this.pixelRatio = pixelRatio;
    if (this.glow) {
      this.glow.material.uniforms.uScale.value = scale;
      this.glow.material.uniforms.uPixelRatio.value = pixelRatio;
    }
  }

  dispose() {
    for (const o of [this.plane, this.glow, this.lines]) {
      if (!o) continue;
      this.scene.remove(o);
      o.geometry.dispose();
      o.material.dispose();
    }
    this.texture.dispose();
  }
}
