// Reference runner for the Go package faceage: estimates ages with
// face-api.js's own AgeGenderNet (@vladmandic/face-api) on TensorFlow.js's
// CPU backend, from the model files in that package, so that the Go tests
// can compare their results with it. Only the age is written: FaceVault
// does not infer gender.
//
// Usage: node age-reference.js request.json response.json
//
// request.json: {"images": [{"id": "...", "file": "x.f32", "width": w,
//                            "height": h, "box": {"x", "y", "width", "height"},
//                            "pipeline": false}]}
//   each file holds one image: h×w×3 little-endian float32 RGB values in
//   0–255, row by row; paths are relative to request.json. box is the face's
//   aligned rectangle, in the image's pixels.
// response.json: {"tfjs": version, "backend": "cpu", "results": [{"id": "...",
//   "crop": {"x", "y", "width", "height"},   the pixels cut out for the box
//   "input": "id.input.f32",                 the 112×112×3 network input
//   "age": number,
//   "pipeline": {"box": {...}, "age": number} | null}]}
// For an image with "pipeline": true, face-api.js also runs on it alone:
// SSD MobileNet v1 detection, 68 landmarks, and the age from its own aligned
// rectangle, so that the Go tests can compare the crops.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const boxOf = (b) => ({ x: b.x, y: b.y, width: b.width, height: b.height });

async function main() {
  const [reqPath, respPath] = process.argv.slice(2);
  if (!reqPath || !respPath) throw new Error('usage: node age-reference.js request.json response.json');
  await tf.setBackend('cpu');
  await tf.ready();
  const dir = path.dirname(path.resolve(reqPath));
  const outDir = path.dirname(path.resolve(respPath));
  const req = JSON.parse(fs.readFileSync(reqPath, 'utf8'));
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ageGenderNet.loadFromDisk(modelDir);
  if (req.images.some((im) => im.pipeline)) {
    await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  }
  const results = [];
  for (const im of req.images) {
    const buf = fs.readFileSync(path.resolve(dir, im.file));
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (data.length !== im.width * im.height * 3) throw new Error(`${im.file}: ${data.length} floats, want ${im.width * im.height * 3}`);
    const img = tf.tensor3d(data, [im.height, im.width, 3], 'float32');
    const rect = new faceapi.Rect(im.box.x, im.box.y, im.box.width, im.box.height);
    const [face] = await faceapi.extractFaceTensors(img, [rect]);
    const netInput = await faceapi.toNetInput(face);
    const batch = netInput.toBatchTensor(112, true);
    const inputFile = `${im.id.replace(/[^A-Za-z0-9]+/g, '_')}.input.f32`;
    fs.writeFileSync(path.join(outDir, inputFile), Buffer.from((await batch.data()).buffer));
    batch.dispose();
    const { age } = await faceapi.nets.ageGenderNet.predictAgeAndGender(face);
    face.dispose();
    let pipeline = null;
    if (im.pipeline) {
      const r = await faceapi.detectSingleFace(img, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 }))
        .withFaceLandmarks().withAgeAndGender();
      if (r) pipeline = { box: boxOf(r.alignedRect.box), age: r.age };
    }
    img.dispose();
    results.push({
      id: im.id, crop: boxOf(rect.clipAtImageBorders(im.width, im.height)), input: inputFile, age, pipeline,
    });
  }
  fs.writeFileSync(respPath, JSON.stringify({ tfjs: tf.version.tfjs, backend: tf.getBackend(), results }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
