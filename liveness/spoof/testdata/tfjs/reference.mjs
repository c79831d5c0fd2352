// Reference runner for the Go package liveness/spoof: runs the antispoof
// and liveness graph models, and Human's preprocessing, with TensorFlow.js
// (pure JavaScript, cpu backend), so that spoof_test.go can compare the Go
// results with it.
//
// Usage: node reference.mjs request.json response.json
//
// request.json: {"cases": [case, ...]}; input files are raw little-endian
// float32, named relative to request.json. Cases:
//   {"id", "op": "execute", "model": "antispoof"|"liveness", "input": file, "shape": [1,S,S,3]}
//     model.execute(input)
//   {"id", "op": "resizeBilinear", "input": file, "shape": [1,H,W,C], "size": [h, w]}
//     tf.image.resizeBilinear(input, size, false)
//   {"id", "op": "crop", "input": file, "shape": [1,H,W,3], "box": [x1, y1, x2, y2], "cropSize": n}
//     Human's face crop: cropAndResize(image, [[y1/H, x1/W, y2/H, x2/W]], [0], [n, n]) / 255
//   {"id", "op": "score", "model": ..., "input": file, "shape": [1,H,W,3], "box": [...], "cropSize": n}
//     the crop, then Human's antispoof.ts / liveness.ts predict():
//     resizeBilinear(crop, [S, S], false), model.execute, data()
// response.json: {"tfjs": version, "backend": "cpu", "results": [{"id", "shape", "data"}, ...]}
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = path.resolve(here, '../../models');

// loadModel reads model.json and its weights with fs and hands them to
// tf.loadGraphModel through an in-memory IOHandler.
async function loadModel(name) {
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, `${name}.json`), 'utf8'));
  const weightSpecs = [];
  const buffers = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const bin = Buffer.concat(buffers);
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs,
      weightData,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
    }),
  };
  return tf.loadGraphModel(handler);
}

function readInput(dir, c) {
  const buf = fs.readFileSync(path.resolve(dir, c.input));
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const size = c.shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new Error(`case ${c.id}: ${c.input} has ${data.length} floats, shape ${c.shape} needs ${size}`);
  return tf.tensor(data, c.shape, 'float32');
}

// crop is Human 3.0.4's cutAndResize (src/face/facemeshutil.ts).
function crop(image, box, cropSize) {
  const h = image.shape[1];
  const w = image.shape[2];
  const [x1, y1, x2, y2] = box;
  const cutBox = [y1 / h, x1 / w, y2 / h, x2 / w];
  const c = tf.image.cropAndResize(image, [cutBox], [0], [cropSize, cropSize]);
  const norm = tf.div(c, tf.scalar(255, 'float32'));
  tf.dispose(c);
  return norm;
}

async function main() {
  const [reqPath, respPath] = process.argv.slice(2);
  if (!reqPath || !respPath) throw new Error('usage: node reference.mjs request.json response.json');
  await tf.setBackend('cpu');
  await tf.ready();
  const req = JSON.parse(fs.readFileSync(reqPath, 'utf8'));
  const dir = path.dirname(path.resolve(reqPath));
  const models = {};
  const model = async (name) => {
    if (!models[name]) models[name] = await loadModel(name);
    return models[name];
  };
  const results = [];
  for (const c of req.cases) {
    const input = readInput(dir, c);
    let out;
    switch (c.op) {
      case 'execute':
        out = (await model(c.model)).execute(input);
        break;
      case 'resizeBilinear':
        out = tf.image.resizeBilinear(input, c.size, false);
        break;
      case 'crop':
        out = crop(input, c.box, c.cropSize);
        break;
      case 'score': {
        const m = await model(c.model);
        const face = crop(input, c.box, c.cropSize);
        // As in Human's antispoof.ts and liveness.ts predict().
        const resize = tf.image.resizeBilinear(face, [m.inputs[0].shape ? m.inputs[0].shape[2] : 0, m.inputs[0].shape ? m.inputs[0].shape[1] : 0], false);
        out = m.execute(resize);
        tf.dispose([face, resize]);
        break;
      }
      default:
        throw new Error(`case ${c.id}: unknown op ${c.op}`);
    }
    results.push({ id: c.id, shape: out.shape, data: Array.from(await out.data()) });
    tf.dispose([input, out]);
  }
  fs.writeFileSync(respPath, JSON.stringify({ tfjs: tf.version.tfjs, backend: tf.getBackend(), results }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
