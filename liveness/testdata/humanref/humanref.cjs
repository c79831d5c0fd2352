// Runs Human 3.3.6 (TensorFlow.js cpu backend) on the liveness fixtures and
// prints, per face, the square crop box Human hands to its antispoof and
// liveness models (in pixels) and the real/live scores.
//
// The crop box is read from a run with the face mesh disabled: Human then
// reports the BlazeFace box enlarged 1.4 times and squared, which is the box
// it cuts face.tensor from (with the mesh enabled it reports the mesh box
// instead, but still cuts the crop from the BlazeFace box). The scores are
// read from a run with Human's defaults (mesh enabled, crop 192×192).
//
// Usage: npm install && node humanref.cjs
const fs = require('fs');
const path = require('path');
const http = require('http');
const jpeg = require('jpeg-js');
const { PNG } = require('pngjs');
require('@tensorflow/tfjs-backend-cpu');
// The package's exports map hides the Node bundles; load by path.
const H = require(path.join(__dirname, 'node_modules/@vladmandic/human/dist/human.node-wasm.js'));

const fixtures = ['pigo-sample.jpg', 'astronaut.png'];

function rgb(file) {
  const buf = fs.readFileSync(path.join(__dirname, '..', file));
  const img = file.endsWith('.png') ? PNG.sync.read(buf) : jpeg.decode(buf, { useTArray: true });
  const out = new Int32Array(img.width * img.height * 3);
  for (let i = 0, j = 0; i < img.data.length; i += 4, j += 3) {
    out[j] = img.data[i]; out[j + 1] = img.data[i + 1]; out[j + 2] = img.data[i + 2];
  }
  return { w: img.width, h: img.height, data: out };
}

async function run(base, mesh) {
  const human = new H.Human({
    backend: 'cpu',
    modelBasePath: base,
    face: {
      enabled: true, mesh: { enabled: mesh }, iris: { enabled: mesh },
      antispoof: { enabled: true }, liveness: { enabled: true },
      emotion: { enabled: false }, description: { enabled: false },
    },
    body: { enabled: false }, hand: { enabled: false }, object: { enabled: false },
    gesture: { enabled: false }, segmentation: { enabled: false }, filter: { enabled: false },
  });
  await human.load();
  const out = {};
  for (const file of fixtures) {
    const im = rgb(file);
    const t = human.tf.tensor3d(im.data, [im.h, im.w, 3], 'int32');
    const res = await human.detect(t);
    t.dispose();
    out[file] = res.face.map((f) => ({
      box: [f.boxRaw[0] * im.w, f.boxRaw[1] * im.h, f.boxRaw[2] * im.w, f.boxRaw[3] * im.h].map((v) => Math.round(v * 10) / 10),
      real: f.real, live: f.live,
    }));
  }
  return out;
}

async function main() {
  // Human fetches its models over HTTP; serve them from node_modules on
  // the loopback interface.
  const dir = path.join(__dirname, 'node_modules/@vladmandic/human/models');
  const srv = http.createServer((req, res) => {
    fs.readFile(path.join(dir, path.basename(req.url)), (err, data) => {
      if (err) { res.statusCode = 404; res.end(); return; }
      res.end(data);
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${srv.address().port}/`;
  const crops = await run(base, false);
  const scores = await run(base, true);
  srv.close();
  for (const file of fixtures) {
    crops[file].forEach((c, i) => {
      const s = scores[file][i] || {};
      console.log(`${file}: crop box x,y,w,h = ${c.box.join(',')}  real=${s.real} live=${s.live}`);
    });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
