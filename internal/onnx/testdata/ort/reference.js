// Reference runner for the Go package internal/onnx: runs ONNX models with
// onnxruntime-node (CPU execution provider, one intra-op and one inter-op
// thread, all graph optimisations), so that the Go tests can compare their
// results with it and the benchmarks their speed.
//
// Usage: node reference.js request.json response.json
//
// request.json:
//   {"cases": [{"id": "...", "model": "path.onnx",
//               "inputs": [{"name": "...", "shape": [...], "file": "x.f32"}],
//               "time": {"warmup": 10, "runs": 50},      (optional)
//               "optimization": "disabled"}]}          (optional, default "all")
// Paths are relative to request.json; tensors are raw little-endian
// float32 files.
// response.json:
//   {"ort": version, "results": [{"id": "...", "error": "..." | null,
//     "outputs": [{"name": "...", "shape": [...], "file": "id.N.f32"}],
//     "msPerRun": number | null}]}
// A case whose model onnxruntime refuses gets "error" instead of outputs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');

const sessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
};

function readTensor(dir, spec) {
  const buf = fs.readFileSync(path.resolve(dir, spec.file));
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new Error(`${spec.file} has ${data.length} floats, shape ${spec.shape} needs ${size}`);
  }
  return new ort.Tensor('float32', data, spec.shape);
}

async function main() {
  const [reqPath, respPath] = process.argv.slice(2);
  if (!reqPath || !respPath) throw new Error('usage: node reference.js request.json response.json');
  const dir = path.dirname(path.resolve(reqPath));
  const req = JSON.parse(fs.readFileSync(reqPath, 'utf8'));
  const sessions = new Map();
  const results = [];
  for (const c of req.cases) {
    const modelPath = path.resolve(dir, c.model);
    const level = c.optimization || 'all';
    const key = `${level} ${modelPath}`;
    let session = sessions.get(key);
    if (!session) {
      try {
        session = await ort.InferenceSession.create(modelPath, { ...sessionOptions, graphOptimizationLevel: level });
      } catch (e) {
        results.push({ id: c.id, error: String(e && e.message ? e.message : e), outputs: [], msPerRun: null });
        continue;
      }
      sessions.set(key, session);
    }
    const feeds = {};
    for (const spec of c.inputs) feeds[spec.name] = readTensor(dir, spec);
    const out = await session.run(feeds);
    const outputs = [];
    session.outputNames.forEach((name, i) => {
      const t = out[name];
      if (t.type !== 'float32') throw new Error(`case ${c.id}: output ${name} is ${t.type}`);
      const file = `${c.id}.out${i}.f32`;
      fs.writeFileSync(path.join(dir, file), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      outputs.push({ name, shape: Array.from(t.dims), file });
    });
    let msPerRun = null;
    if (c.time) {
      for (let i = 0; i < c.time.warmup; i++) await session.run(feeds);
      const start = process.hrtime.bigint();
      for (let i = 0; i < c.time.runs; i++) await session.run(feeds);
      msPerRun = Number(process.hrtime.bigint() - start) / 1e6 / c.time.runs;
    }
    results.push({ id: c.id, error: null, outputs, msPerRun });
  }
  const version = require('onnxruntime-node/package.json').version;
  fs.writeFileSync(respPath, JSON.stringify({ ort: version, results }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
