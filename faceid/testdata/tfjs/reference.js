// Reference runner for the Go package faceid: computes face descriptors with
// face-api.js's own FaceRecognitionNet (@vladmandic/face-api, the dlib
// ResNet) on TensorFlow.js's CPU backend, from the model files in that
// package, so that the Go tests can compare their results with it.
//
// Usage: node reference.js request.json response.json
//
// request.json:  {"faces": [{"id": "...", "file": "x.f32"}]}
//   each file holds one aligned face: 150×150×3 little-endian float32 RGB
//   values in 0–255, row by row (the network's input before its own
//   normalisation); paths are relative to request.json.
// response.json: {"tfjs": version, "backend": "cpu",
//                 "results": [{"id": "...", "descriptor": [128 numbers]}]}
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

async function main() {
  const [reqPath, respPath] = process.argv.slice(2);
  if (!reqPath || !respPath) throw new Error('usage: node reference.js request.json response.json');
  await tf.setBackend('cpu');
  await tf.ready();
  const dir = path.dirname(path.resolve(reqPath));
  const req = JSON.parse(fs.readFileSync(reqPath, 'utf8'));
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const results = [];
  for (const face of req.faces) {
    const buf = fs.readFileSync(path.resolve(dir, face.file));
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (data.length !== 150 * 150 * 3) throw new Error(`${face.file}: ${data.length} floats, want ${150 * 150 * 3}`);
    const input = tf.tensor3d(data, [150, 150, 3], 'float32');
    const d = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(input);
    input.dispose();
    results.push({ id: face.id, descriptor: Array.from(d) });
  }
  fs.writeFileSync(respPath, JSON.stringify({ tfjs: tf.version.tfjs, backend: tf.getBackend(), results }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
