// End-to-end test: the official ComplyCube Node SDK (@complycube/api 1.1.13),
// unchanged, drives a running FaceVault over real HTTP. Every method of
// cc.client, cc.livePhoto, cc.check, cc.auditLog and cc.webhook is called for success
// and for failure, and what comes back is checked against docs/contract.md.
//
// Configuration (environment):
//   FACEVAULT_URL          base URL of the service, e.g. http://127.0.0.1:8080
//   FACEVAULT_TEST_KEY     test-mode key of account A
//   FACEVAULT_LIVE_KEY     live-mode key of account A
//   FACEVAULT_OTHER_KEY    test-mode key of account B
//   FACEVAULT_FIXTURES     directory with photo.jpg, photo.png, small.jpg (30 KB),
//                          big.jpg (5 MB) and notimage.gif
//   FACEVAULT_REVOKED_KEY  optional: a key that has been revoked
//
// The webhook tests receive deliveries on 127.0.0.1: the service must be
// started with --webhook-allow 127.0.0.1.
//
// cmd/facevault/sdk_test.go starts the service and runs this file; it can
// also be run by hand against any FaceVault with the variables above set:
//   node --test --test-reporter=spec sdktest/sdk.test.mjs
//
// Each test makes its own clients and photos, so one failure does not
// cascade. Tests in this file run one after another (node:test's default),
// which the client-list test relies on.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createServer } from "node:http";
import { once } from "node:events";
import { ComplyCube, ComplyCubeApiError, EventVerifier } from "@complycube/api";

// ---------------------------------------------------------------------------
// Configuration and fixtures

function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`environment variable ${name} must be set (see the top of sdk.test.mjs)`);
  }
  return v;
}

const BASE_URL = env("FACEVAULT_URL").replace(/\/+$/, "");
const TEST_KEY = env("FACEVAULT_TEST_KEY");
const LIVE_KEY = env("FACEVAULT_LIVE_KEY");
const OTHER_KEY = env("FACEVAULT_OTHER_KEY");
const REVOKED_KEY = process.env.FACEVAULT_REVOKED_KEY || "";
const FIXTURES = env("FACEVAULT_FIXTURES");

const fixture = (name) => readFileSync(join(FIXTURES, name));
const PHOTO_JPG = fixture("photo.jpg");
const PHOTO_PNG = fixture("photo.png");
const SMALL_JPG = fixture("small.jpg");
const BIG_JPG = fixture("big.jpg");
const NOT_IMAGE_GIF = fixture("notimage.gif");
const NO_FACE_JPG = fixture("noface.jpg");

const SIZE_MESSAGE = "Image file size should be between 34KB and 4MB";
const UNAUTHORIZED_MESSAGE = "The 'Authorization' header is invalid";

/** sdk returns a ComplyCube SDK instance pointed at the service under test. */
function sdk(apiKey) {
  const cc = new ComplyCube({ apiKey });
  cc.axiosInstance.defaults.baseURL = BASE_URL + "/v1";
  // A hung request should fail the test, not the whole run.
  cc.axiosInstance.defaults.timeout = 60_000;
  return cc;
}

const cc = sdk(TEST_KEY); // account A, test mode: the owner of everything below
const ccLive = sdk(LIVE_KEY); // account A, live mode
const ccOther = sdk(OTHER_KEY); // account B, test mode

// ---------------------------------------------------------------------------
// Helpers

const ID_RE = /^[0-9a-f]{24}$/;
const ISO_MS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let seq = 0;
// The validating proxy between this suite and the service
// (cmd/facevault/sdk_test.go) checks every request and answer against the
// API's OpenAPI document. A request sent malformed on purpose (a missing or
// mistyped field, a page out of range) carries this header: the proxy then
// checks its answer only, and removes the header.
const INVALID_HEADER = "X-Test-Invalid-Request";

/**
 * malformed runs call, whose requests are malformed on purpose (reason says
 * how), with them marked so. Tests run one after another, so the mark is
 * on no other request.
 */
async function malformed(reason, call) {
  const headers = cc.axiosInstance.defaults.headers.common;
  headers[INVALID_HEADER] = reason;
  try {
    return await call();
  } finally {
    delete headers[INVALID_HEADER];
  }
}

/** uniq returns a string unique within this run. */
const uniq = () => `${Date.now().toString(36)}${(seq++).toString(36)}`;

/** randomId returns a well-formed id that names nothing. */
const randomId = () => randomBytes(12).toString("hex");

const MALFORMED_IDS = ["not-an-id", "123", "ABCDEF0123456789ABCDEF01", "0123456789abcdef0123456789"];

const b64 = (buf) => buf.toString("base64");

/** assertTimestamp checks the contract's timestamp format. */
function assertTimestamp(v, what) {
  assert.equal(typeof v, "string", `${what} must be a string, got ${JSON.stringify(v)}`);
  assert.match(v, ISO_MS_RE, `${what} must be ISO-8601 UTC with milliseconds and Z`);
  assert.equal(new Date(v).toISOString(), v, `${what} must be a real instant`);
}

/** assertId checks an id's form and that its leading seconds match createdAt. */
function assertId(id, createdAt, what) {
  assert.match(id, ID_RE, `${what} id must be 24 lowercase hex characters`);
  const idSeconds = parseInt(id.slice(0, 8), 16);
  const createdSeconds = Math.floor(Date.parse(createdAt) / 1000);
  assert.ok(
    Math.abs(idSeconds - createdSeconds) <= 1,
    `${what} id ${id} should start with the creation time in seconds (${createdSeconds}), has ${idSeconds}`,
  );
}

/** assertNoEmpty checks that no field is null or "" (they must be omitted). */
function assertNoEmpty(obj, path = "") {
  for (const [k, v] of Object.entries(obj)) {
    assert.ok(v !== null && v !== "", `${path}${k} is ${JSON.stringify(v)}: empty fields must be left out`);
    if (v && typeof v === "object") assertNoEmpty(v, `${path}${k}.`);
  }
}

/**
 * expectError awaits p and checks that it failed with a ComplyCubeApiError
 * of the given status, type and param (undefined: no param), and, if given,
 * the exact message.
 */
async function expectError(p, { status, type, param, message }) {
  let result;
  try {
    result = await p;
  } catch (err) {
    assert.ok(
      err instanceof ComplyCubeApiError,
      `expected ComplyCubeApiError ${status} ${type}, got ${err && err.name}: ${err && err.message}`,
    );
    const body = JSON.stringify(err.responseBody);
    assert.equal(err.statusCode, status, `status code (body ${body})`);
    assert.equal(err.type, type, `error type (body ${body})`);
    assert.equal(err.param, param, `error param (body ${body})`);
    assert.ok(
      err.responseBody && typeof err.responseBody.message === "string" && err.responseBody.message.length > 0,
      `error body must carry a message (body ${body})`,
    );
    if (message !== undefined) {
      assert.equal(err.responseBody.message, message, `error message (body ${body})`);
    }
    return err;
  }
  assert.fail(`expected ${status} ${type}${param ? ` (param ${param})` : ""}, but the call succeeded with ${JSON.stringify(result)}`);
}

const notFoundClient = (id) => ({ status: 404, type: "resource_not_found", message: `Invalid client id '${id}'` });
const notFoundPhoto = (id) => ({ status: 404, type: "resource_not_found", message: `Invalid live photo id '${id}'` });
const invalid = (param, message) => ({ status: 400, type: "invalid_request", param, message });
const unauthorized = { status: 401, type: "unauthorized", message: UNAUTHORIZED_MESSAGE };

/** personRequest is a full create request for a person client. */
function personRequest(extra = {}) {
  const u = uniq();
  return {
    type: "person",
    email: `ada.${u}@example.com`,
    mobile: "+447700900123",
    telephone: "+442071838750",
    externalId: `ext-${u}`,
    joinedDate: "2024-02-29",
    personDetails: {
      firstName: "Ada",
      lastName: "Lovelace",
      dob: "1815-12-10",
      gender: "female",
      nationality: "GB",
      birthCountry: "GB",
    },
    metadata: { tier: "gold", source: "sdk-test" },
    ...extra,
  };
}

/** newPerson creates a minimal person client with the given SDK instance. */
async function newPerson(client = cc) {
  return client.client.create({
    type: "person",
    email: `p.${uniq()}@example.com`,
    personDetails: { firstName: "Grace", lastName: "Hopper" },
  });
}

/** assertClient checks a client object: exact fields, formats, values. */
function assertClient(c, request, entityName) {
  assert.equal(typeof c, "object");
  assertId(c.id, c.createdAt, "client");
  assertTimestamp(c.createdAt, "createdAt");
  assertTimestamp(c.updatedAt, "updatedAt");
  assertNoEmpty(c);
  assert.deepEqual(c, {
    ...request,
    id: c.id,
    entityName,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  });
}

/** assertPhoto checks a live photo object: exact fields, formats, values. */
function assertPhoto(p, { clientId, contentType, size, performLivenessCheck }) {
  assert.equal(typeof p, "object");
  assert.ok(!("data" in p), "a live photo object must never carry the image");
  assertId(p.id, p.createdAt, "live photo");
  assertTimestamp(p.createdAt, "createdAt");
  assertTimestamp(p.updatedAt, "updatedAt");
  assert.equal(typeof p.size, "number", "size must be a number");
  assertNoEmpty(p);
  const expected = {
    id: p.id,
    clientId,
    downloadLink: `/livePhotos/${p.id}/download`,
    contentType,
    performLivenessCheck,
    size,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
  if ("redacted" in p || "redactedAt" in p) {
    expected.redacted = true;
    expected.redactedAt = p.redactedAt;
    assertTimestamp(p.redactedAt, "redactedAt");
  }
  if (performLivenessCheck && !expected.redacted) {
    assertLivenessCheck(p.livenessCheck);
    expected.livenessCheck = p.livenessCheck;
  } else if (performLivenessCheck) {
    // Redaction destroys the photo's key, and with it the findings sealed
    // under it (face box and landmarks are face data).
    assert.ok(!("livenessCheck" in p), "no livenessCheck once the photo is redacted");
  } else {
    assert.ok(!("livenessCheck" in p), "no livenessCheck when performLivenessCheck is false");
  }
  assert.deepEqual(p, expected);
}

/**
 * assertLivenessCheck checks the shape of a liveness check result: every
 * analysis is present whatever the photo, so that typed clients see one
 * shape; the presentation-attack score is there exactly when a face was
 * found.
 */
function assertLivenessCheck(lc) {
  const outcomes = ["clear", "attention"];
  assert.equal(typeof lc, "object", "livenessCheck is present when performLivenessCheck is true");
  assert.ok(outcomes.includes(lc.outcome), `outcome ${lc.outcome}`);
  assert.equal(typeof lc.engine, "string");
  assert.match(lc.engine, /BlazeFace/);
  const { integrityAnalysis: integrity, qualityAnalysis: quality, authenticityAnalysis: authenticity } = lc.breakdown;
  assert.ok(outcomes.includes(integrity.faceDetection));
  assert.equal(typeof integrity.breakdown.faceCount, "number");
  assert.equal(typeof quality, "object", "qualityAnalysis is always present");
  assert.equal(typeof authenticity, "object", "authenticityAnalysis is always present");
  const analyses = [integrity.faceDetection];
  for (const k of ["faceSize", "faceOrientation", "sharpness", "exposure"]) {
    assert.ok(outcomes.includes(quality[k]), `qualityAnalysis.${k} ${quality[k]}`);
    analyses.push(quality[k]);
  }
  for (const k of ["spoofedImageAnalysis", "livenessCheck"]) {
    assert.ok(outcomes.includes(authenticity[k]), `authenticityAnalysis.${k} ${authenticity[k]}`);
    analyses.push(authenticity[k]);
  }
  assert.ok(!("antispoofScore" in authenticity.breakdown), "antispoofScore is no longer reported");
  const score = authenticity.breakdown.livenessCheckScore;
  if (integrity.breakdown.faceCount > 0) {
    assert.ok(Number.isInteger(score) && score >= 0 && score <= 100, `livenessCheckScore ${score} must be an integer from 0 to 100`);
  } else {
    assert.equal(score, undefined, "no livenessCheckScore without a face");
    assert.equal(lc.outcome, "attention");
  }
  assert.equal(lc.outcome, analyses.includes("attention") ? "attention" : "clear", "outcome is attention when any analysis is");
}

/** assertDownload checks a download against the photo and the uploaded bytes. */
function assertDownload(d, photo, bytes) {
  const ext = photo.contentType === "images/png" ? "png" : "jpg";
  // sha256 is FaceVault's own field, which the SDK passes through.
  assert.deepEqual(Object.keys(d).sort(), ["contentType", "data", "fileName", "sha256"]);
  assert.equal(d.sha256, createHash("sha256").update(bytes).digest("hex"), "sha256 is the stored image's, lowercase hex");
  assert.equal(d.fileName, `selfie_${Date.parse(photo.createdAt)}.${ext}`);
  assert.equal(d.contentType, photo.contentType);
  assert.equal(typeof d.data, "string");
  const got = Buffer.from(d.data, "base64");
  assert.equal(got.length, bytes.length, "downloaded image length");
  assert.ok(got.equals(bytes), "downloaded image must be byte-for-byte the uploaded one");
  assert.equal(d.data, bytes.toString("base64"), "download data must be standard padded base64");
}

/** contentTypeOf is the contract's contentType for a fixture's bytes. */
const contentTypeOf = (bytes) => (bytes[0] === 0x89 && bytes.subarray(1, 4).toString() === "PNG" ? "images/png" : "images/jpg");

/**
 * upload uploads a fixture as account A's test key and checks the answer;
 * opts are extra request fields (performLivenessCheck).
 */
async function upload(clientId, bytes, opts = {}) {
  const p = await cc.livePhoto.upload(clientId, { data: b64(bytes), ...opts });
  assertPhoto(p, {
    clientId,
    contentType: contentTypeOf(bytes),
    size: bytes.length,
    performLivenessCheck: opts.performLivenessCheck ?? true,
  });
  return p;
}

// ---------------------------------------------------------------------------
// Fixtures sanity: the failures below must be about what they claim.

test("fixtures are what the tests assume", () => {
  const jpeg = (b) => b[0] === 0xff && b[1] === 0xd8;
  assert.ok(jpeg(PHOTO_JPG) && jpeg(SMALL_JPG) && jpeg(BIG_JPG), "JPEG fixtures start with FFD8");
  assert.ok(PHOTO_PNG.subarray(1, 4).toString() === "PNG", "photo.png is a PNG");
  assert.equal(NOT_IMAGE_GIF.subarray(0, 3).toString(), "GIF", "notimage.gif is a GIF");
  assert.ok(jpeg(NO_FACE_JPG), "noface.jpg is a JPEG");
  for (const [name, b] of [["photo.jpg", PHOTO_JPG], ["photo.png", PHOTO_PNG], ["notimage.gif", NOT_IMAGE_GIF], ["noface.jpg", NO_FACE_JPG]]) {
    assert.ok(b.length >= 34 * 1024 && b.length <= 4 * 1024 * 1024, `${name} (${b.length} bytes) must be within the size bounds`);
  }
  assert.ok(SMALL_JPG.length < 34 * 1024, "small.jpg below 34 KB");
  assert.ok(BIG_JPG.length > 4 * 1024 * 1024, "big.jpg above 4 MB");
});

// ---------------------------------------------------------------------------
// Authentication

describe("authentication", () => {
  const wellFormed = (mode) => `${mode}_${randomBytes(30).toString("base64url").replace(/[-_]/g, "x").slice(0, 40)}`;
  const badKeys = [
    ["a bogus key", "bogus"],
    ["a well-formed unknown test key", wellFormed("test")],
    ["a well-formed unknown live key", wellFormed("live")],
    ["a revoked-looking key (real prefix, wrong secret)", TEST_KEY.slice(0, -4) + "zzzz"],
  ];

  for (const [name, key] of badKeys) {
    test(`every client and live photo method answers 401 to ${name}`, async () => {
      const bad = sdk(key);
      const id = randomId();
      await expectError(bad.client.create(personRequest()), unauthorized);
      await expectError(bad.client.get(id), unauthorized);
      await expectError(bad.client.update(id, { email: "x@example.com" }), unauthorized);
      await expectError(bad.client.delete(id), unauthorized);
      await expectError(bad.client.list(), unauthorized);
      await expectError(bad.livePhoto.upload(id, { data: b64(PHOTO_JPG) }), unauthorized);
      await expectError(bad.livePhoto.get(id), unauthorized);
      await expectError(bad.livePhoto.list(id), unauthorized);
      await expectError(bad.livePhoto.download(id), unauthorized);
      await expectError(bad.livePhoto.redact(id), unauthorized);
      await expectError(bad.livePhoto.delete(id), unauthorized);
    });
  }

  test("a revoked key answers 401", { skip: !REVOKED_KEY && "FACEVAULT_REVOKED_KEY not set" }, async () => {
    const revoked = sdk(REVOKED_KEY);
    await expectError(revoked.client.list(), unauthorized);
    await expectError(revoked.client.create(personRequest()), unauthorized);
    await expectError(revoked.livePhoto.list(randomId()), unauthorized);
  });

  test("a 401 does not touch data: nothing is created with a bad key", async () => {
    const c = await newPerson();
    await expectError(sdk("bogus").livePhoto.upload(c.id, { data: b64(PHOTO_JPG) }), unauthorized);
    assert.deepEqual(await cc.livePhoto.list(c.id), []);
  });

  test("'Bearer <key>' is accepted too", async () => {
    const bearer = sdk(`Bearer ${TEST_KEY}`);
    const c = await bearer.client.create(personRequest());
    assert.equal((await cc.client.get(c.id)).id, c.id, "same account and mode as the raw key");
  });
});

// ---------------------------------------------------------------------------
// Clients

describe("clients", () => {
  test("create a person: every field echoed, entityName derived, get returns the same", async () => {
    const req = personRequest();
    const c = await cc.client.create(req);
    assertClient(c, req, "Ada Lovelace");
    assert.equal(c.createdAt, c.updatedAt, "a new client has updatedAt = createdAt");
    assert.ok(Math.abs(Date.parse(c.createdAt) - Date.now()) < 60_000, "createdAt is now");
    assert.deepEqual(await cc.client.get(c.id), c);
  });

  test("create a company: entityName is the company name", async () => {
    const req = {
      type: "company",
      email: `acme.${uniq()}@example.com`,
      companyDetails: {
        name: "Acme Widgets Ltd",
        website: "https://acme.example.com",
        registrationNumber: "01234567",
        incorporationCountry: "GB",
        incorporationType: "private_limited_company",
      },
    };
    const c = await cc.client.create(req);
    assertClient(c, req, "Acme Widgets Ltd");
    assert.deepEqual(await cc.client.get(c.id), c);
  });

  test("create with optional fields left out omits them from the answer", async () => {
    const req = { type: "person", email: `min.${uniq()}@example.com`, personDetails: { firstName: "Min", lastName: "Imal" } };
    const c = await cc.client.create(req);
    assertClient(c, req, "Min Imal");
  });

  test("update merges nested objects, re-derives entityName and moves updatedAt", async () => {
    const req = personRequest();
    const c = await cc.client.create(req);
    await sleep(5);
    const u = await cc.client.update(c.id, {
      mobile: "+447700900999",
      personDetails: { middleName: "King", lastName: "Byron" },
      metadata: { tier: "platinum", region: "eu" },
    });
    const want = {
      ...c,
      mobile: "+447700900999",
      personDetails: { ...req.personDetails, middleName: "King", lastName: "Byron" },
      metadata: { tier: "platinum", source: "sdk-test", region: "eu" },
      entityName: "Ada Byron",
      updatedAt: u.updatedAt,
    };
    assert.deepEqual(u, want);
    assertTimestamp(u.updatedAt, "updatedAt");
    assert.ok(Date.parse(u.updatedAt) > Date.parse(c.updatedAt), `updatedAt must move: ${c.updatedAt} -> ${u.updatedAt}`);
    assert.deepEqual(await cc.client.get(c.id), u);
  });

  test("update of a company's website keeps its name", async () => {
    const c = await cc.client.create({
      type: "company",
      email: `co.${uniq()}@example.com`,
      companyDetails: { name: "Globex", registrationNumber: "999" },
    });
    const u = await cc.client.update(c.id, { companyDetails: { website: "https://globex.example" } });
    assert.deepEqual(u.companyDetails, { name: "Globex", registrationNumber: "999", website: "https://globex.example" });
    assert.equal(u.entityName, "Globex");
  });

  test("update refuses a type change and changes nothing", async () => {
    const c = await cc.client.create(personRequest());
    await expectError(
      cc.client.update(c.id, { type: "company", companyDetails: { name: "Nope Ltd" }, email: `changed.${uniq()}@example.com` }),
      invalid("type"),
    );
    assert.deepEqual(await cc.client.get(c.id), c, "a refused update must leave the client as it was");
  });

  test("update validates the merged client", async () => {
    const c = await cc.client.create(personRequest());
    await expectError(malformed("a metadata value not a string", () => cc.client.update(c.id, { metadata: { bad: 42 } })), invalid("metadata"));
    await expectError(cc.client.update(c.id, { email: "not an email" }), invalid("email"));
    assert.deepEqual(await cc.client.get(c.id), c);
  });

  describe("create validation (400 invalid_request with param)", () => {
    const base = () => personRequest();
    const cases = [
      ["without email", () => { const r = base(); delete r.email; return r; }, "email"],
      ["without type", () => { const r = base(); delete r.type; return r; }, "type"],
      ["with an unknown type", () => ({ ...base(), type: "robot" }), "type"],
      ["person without personDetails", () => { const r = base(); delete r.personDetails; return r; }, "personDetails", "'personDetails' must be provided when client type is `person`"],
      ["person without lastName", () => { const r = base(); delete r.personDetails.lastName; return r; }, "personDetails.lastName"],
      ["person without firstName", () => { const r = base(); delete r.personDetails.firstName; return r; }, "personDetails.firstName"],
      ["company without companyDetails", () => ({ type: "company", email: `c.${uniq()}@example.com` }), "companyDetails"],
      ["company without a name", () => ({ type: "company", email: `c.${uniq()}@example.com`, companyDetails: { website: "https://x.example" } }), "companyDetails.name"],
      ["metadata as an array", () => ({ ...base(), metadata: ["a", "b"] }), "metadata"],
      ["a number as metadata value", () => ({ ...base(), metadata: { n: 1 } }), "metadata"],
      ["a boolean as metadata value", () => ({ ...base(), metadata: { b: true } }), "metadata"],
      ["an object as metadata value", () => ({ ...base(), metadata: { o: { x: "y" } } }), "metadata"],
      ["a metadata key of 41 characters", () => ({ ...base(), metadata: { ["k".repeat(41)]: "v" } }), "metadata"],
      ["a metadata value of 501 characters", () => ({ ...base(), metadata: { k: "v".repeat(501) } }), "metadata"],
      ["51 metadata keys", () => ({ ...base(), metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"])) }), "metadata"],
    ];
    for (const [name, make, param, message] of cases) {
      test(name, async () => {
        const req = make();
        await expectError(malformed(name, () => cc.client.create(req)), invalid(param, message));
        if (req.email) {
          // Nothing half-made: no client with that email exists.
          const found = await cc.axiosInstance.get("clients/", { params: { email: req.email } });
          assert.equal(found.data.totalItems, 0, `a refused create left a client behind: ${JSON.stringify(found.data.items)}`);
        }
      });
    }
    test("metadata at its limits is accepted (50 keys, 40-char key, 500-char value)", async () => {
      const metadata = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, "v"]));
      metadata["k".repeat(40)] = "v".repeat(500);
      const req = { ...base(), metadata };
      const c = await cc.client.create(req);
      assert.deepEqual(c.metadata, metadata);
    });
  });

  describe("not found and tenant isolation (404 Invalid client id)", () => {
    test("unknown id: get, update, delete", async () => {
      const id = randomId();
      await expectError(cc.client.get(id), notFoundClient(id));
      await expectError(cc.client.update(id, { email: "x@example.com" }), notFoundClient(id));
      await expectError(cc.client.delete(id), notFoundClient(id));
    });

    for (const id of MALFORMED_IDS) {
      test(`malformed id '${id}' is answered like an unknown id`, async () => {
        await expectError(cc.client.get(id), notFoundClient(id));
        await expectError(cc.client.update(id, { email: "x@example.com" }), notFoundClient(id));
        await expectError(cc.client.delete(id), notFoundClient(id));
      });
    }

    for (const [name, intruder] of [["another account", ccOther], ["the other mode of the same account", ccLive]]) {
      test(`a client cannot be read, changed or deleted from ${name}`, async () => {
        const c = await cc.client.create(personRequest());
        await expectError(intruder.client.get(c.id), notFoundClient(c.id));
        await expectError(intruder.client.update(c.id, { email: `intruder.${uniq()}@example.com` }), notFoundClient(c.id));
        await expectError(intruder.client.delete(c.id), notFoundClient(c.id));
        const listed = await intruder.client.list({ pageSize: 1000 });
        assert.ok(!listed.some((x) => x.id === c.id), "the client must not be listed for a different (account, mode)");
        assert.deepEqual(await cc.client.get(c.id), c, "the owner still sees the client unchanged");
      });
    }
  });

  test("list: newest first, paging with {page, pageSize}, items equal get", async () => {
    const made = [];
    for (let i = 0; i < 3; i++) {
      made.push(await cc.client.create(personRequest()));
      await sleep(5); // distinct createdAt, so the order is by time
    }
    const [c1, c2, c3] = made;
    const first3 = await cc.client.list({ page: 1, pageSize: 3 });
    assert.deepEqual(first3.map((c) => c.id), [c3.id, c2.id, c1.id]);
    assert.deepEqual(first3, [c3, c2, c1], "list items are the full objects");
    assert.deepEqual((await cc.client.list({ page: 1, pageSize: 2 })).map((c) => c.id), [c3.id, c2.id]);
    assert.equal((await cc.client.list({ page: 2, pageSize: 2 }))[0].id, c1.id);
    assert.equal((await cc.client.list())[0].id, c3.id, "default paging starts at the newest");
    assert.deepEqual(await cc.client.list({ page: 1_000_000, pageSize: 10 }), [], "a page past the end is empty");

    const all = await cc.client.list({ pageSize: 1000 });
    for (let i = 1; i < all.length; i++) {
      const a = all[i - 1], b = all[i];
      assert.ok(
        a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id),
        `list order: ${a.id}@${a.createdAt} must come before ${b.id}@${b.createdAt}`,
      );
    }
  });

  test("list validation: page 0, pageSize 0 and 1001 are 400 with param", async () => {
    await expectError(malformed("an error case", () => cc.client.list({ page: 0 })), invalid("page"));
    await expectError(malformed("an error case", () => cc.client.list({ page: -1, pageSize: 10 })), invalid("page"));
    await expectError(malformed("an error case", () => cc.client.list({ pageSize: 0 })), invalid("pageSize"));
    await expectError(malformed("an error case", () => cc.client.list({ pageSize: 1001 })), invalid("pageSize"));
    assert.ok(Array.isArray(await cc.client.list({ pageSize: 1000 })), "pageSize 1000 is allowed");
  });

  test("delete: then get, update and delete are 404", async () => {
    const c = await cc.client.create(personRequest());
    assert.equal(await cc.client.delete(c.id), undefined);
    await expectError(cc.client.get(c.id), notFoundClient(c.id));
    await expectError(cc.client.update(c.id, { email: "x@example.com" }), notFoundClient(c.id));
    await expectError(cc.client.delete(c.id), notFoundClient(c.id));
    const listed = await cc.client.list({ pageSize: 1000 });
    assert.ok(!listed.some((x) => x.id === c.id), "a deleted client is not listed");
  });

  test("delete cascades to the client's live photos", async () => {
    const c = await newPerson();
    const other = await newPerson();
    const p1 = await upload(c.id, PHOTO_JPG);
    const p2 = await upload(c.id, PHOTO_PNG);
    const kept = await upload(other.id, PHOTO_JPG);
    await cc.client.delete(c.id);
    for (const p of [p1, p2]) {
      await expectError(cc.livePhoto.get(p.id), notFoundPhoto(p.id));
      await expectError(cc.livePhoto.download(p.id), notFoundPhoto(p.id));
      await expectError(cc.livePhoto.redact(p.id), notFoundPhoto(p.id));
      await expectError(cc.livePhoto.delete(p.id), notFoundPhoto(p.id));
    }
    assert.deepEqual(await cc.livePhoto.list(c.id), [], "a deleted client has no photos");
    await expectError(cc.livePhoto.upload(c.id, { data: b64(PHOTO_JPG) }), notFoundClient(c.id));
    // Another client's photo is untouched.
    assert.deepEqual(await cc.livePhoto.get(kept.id), kept);
    assertDownload(await cc.livePhoto.download(kept.id), kept, PHOTO_JPG);
  });
});

// ---------------------------------------------------------------------------
// Live photos

describe("live photos", () => {
  test("the liveness check finds the face in a real photo", async () => {
    const c = await newPerson();
    const p = await upload(c.id, PHOTO_JPG);
    const integrity = p.livenessCheck.breakdown.integrityAnalysis;
    assert.equal(integrity.faceDetection, "clear");
    assert.equal(integrity.breakdown.faceCount, 1);
    assert.ok(p.livenessCheck.breakdown.qualityAnalysis, "a found face is measured");
    assert.ok(p.livenessCheck.breakdown.authenticityAnalysis, "a found face is scored");
  });

  test("no face: refused with 422 no_face_detected for a live key, recorded as attention for a test key", async () => {
    const live = await newPerson(ccLive);
    await expectError(ccLive.livePhoto.upload(live.id, { data: b64(NO_FACE_JPG) }), {
      status: 422,
      type: "no_face_detected",
      param: undefined,
    });
    assert.deepEqual(await ccLive.livePhoto.list(live.id), [], "a refused upload stores nothing");
    const off = await ccLive.livePhoto.upload(live.id, { data: b64(NO_FACE_JPG), performLivenessCheck: false });
    assert.ok(!("livenessCheck" in off), "without the check a live key's upload is accepted");

    const c = await newPerson();
    const p = await upload(c.id, NO_FACE_JPG);
    assert.equal(p.livenessCheck.outcome, "attention");
    assert.equal(p.livenessCheck.breakdown.integrityAnalysis.faceDetection, "attention");
    assert.equal(p.livenessCheck.breakdown.integrityAnalysis.breakdown.faceCount, 0);
  });

  test("upload a JPEG: object per contract, performLivenessCheck defaults to true, get returns the same", async () => {
    const c = await newPerson();
    const p = await upload(c.id, PHOTO_JPG);
    assert.equal(p.performLivenessCheck, true);
    assert.equal(p.createdAt, p.updatedAt);
    assert.ok(!("redacted" in p), "a fresh photo is not redacted");
    assert.deepEqual(await cc.livePhoto.get(p.id), p);
  });

  test("download a JPEG: byte-for-byte the upload, fileName selfie_<createdAt ms>.jpg", async () => {
    const c = await newPerson();
    const p = await upload(c.id, PHOTO_JPG);
    const d = await cc.livePhoto.download(p.id);
    assertDownload(d, p, PHOTO_JPG);
    assert.equal(d.contentType, "images/jpg");
  });

  test("PNG round trip: images/png, .png file name, same bytes", async () => {
    const c = await newPerson();
    const p = await upload(c.id, PHOTO_PNG);
    assert.equal(p.contentType, "images/png");
    assert.deepEqual(await cc.livePhoto.get(p.id), p);
    const d = await cc.livePhoto.download(p.id);
    assertDownload(d, p, PHOTO_PNG);
    assert.match(d.fileName, /^selfie_\d+\.png$/);
  });

  test("performLivenessCheck false is echoed and kept; true explicitly too", async () => {
    const c = await newPerson();
    const off = await cc.livePhoto.upload(c.id, { data: b64(PHOTO_JPG), performLivenessCheck: false });
    assertPhoto(off, { clientId: c.id, contentType: "images/jpg", size: PHOTO_JPG.length, performLivenessCheck: false });
    assert.equal((await cc.livePhoto.get(off.id)).performLivenessCheck, false);
    const on = await cc.livePhoto.upload(c.id, { data: b64(PHOTO_JPG), performLivenessCheck: true });
    assert.equal(on.performLivenessCheck, true);
  });

  test("data with a data: URI prefix and line breaks is accepted and stored exactly", async () => {
    const c = await newPerson();
    const wrapped = b64(PHOTO_PNG).replace(/.{76}/g, "$&\n");
    const p = await cc.livePhoto.upload(c.id, { data: `data:image/png;base64,${wrapped}` });
    assertPhoto(p, { clientId: c.id, contentType: "images/png", size: PHOTO_PNG.length, performLivenessCheck: true });
    assertDownload(await cc.livePhoto.download(p.id), p, PHOTO_PNG);
  });

  test("list: newest first, paging with {page, pageSize}, only the client's photos", async () => {
    const c = await newPerson();
    const neighbour = await newPerson();
    await upload(neighbour.id, PHOTO_JPG);
    const made = [];
    for (let i = 0; i < 3; i++) {
      made.push(await upload(c.id, i === 1 ? PHOTO_PNG : PHOTO_JPG));
      await sleep(5);
    }
    const [p1, p2, p3] = made;
    assert.deepEqual(await cc.livePhoto.list(c.id), [p3, p2, p1], "all of the client's photos, newest first, full objects");
    assert.deepEqual((await cc.livePhoto.list(c.id, { page: 1, pageSize: 2 })).map((p) => p.id), [p3.id, p2.id]);
    assert.deepEqual((await cc.livePhoto.list(c.id, { page: 2, pageSize: 2 })).map((p) => p.id), [p1.id]);
    assert.deepEqual(await cc.livePhoto.list(c.id, { page: 3, pageSize: 2 }), [], "a page past the end is empty");
    assert.deepEqual((await cc.livePhoto.list(c.id, { page: 2, pageSize: 1 })).map((p) => p.id), [p2.id]);
  });

  test("list validation: missing clientId, page 0, pageSize 0 and 1001", async () => {
    const c = await newPerson();
    await expectError(malformed("an error case", () => cc.livePhoto.list(undefined)), invalid("clientId", "The query parameter 'clientId' is required"));
    await expectError(malformed("an error case", () => cc.livePhoto.list(c.id, { page: 0 })), invalid("page"));
    await expectError(malformed("an error case", () => cc.livePhoto.list(c.id, { pageSize: 0 })), invalid("pageSize"));
    await expectError(malformed("an error case", () => cc.livePhoto.list(c.id, { pageSize: 1001 })), invalid("pageSize"));
    assert.deepEqual(await cc.livePhoto.list(c.id, { pageSize: 1000 }), []);
  });

  test("list for a client the caller does not have is 200 with no items", async () => {
    assert.deepEqual(await cc.livePhoto.list(randomId()), [], "unknown client");
    const theirs = await newPerson(ccOther);
    const theirPhoto = await ccOther.livePhoto.upload(theirs.id, { data: b64(PHOTO_JPG) });
    assert.equal(theirPhoto.clientId, theirs.id);
    assert.deepEqual(await cc.livePhoto.list(theirs.id), [], "another account's client");
    assert.deepEqual(await ccLive.livePhoto.list(theirs.id), [], "another account's client, live mode");
    const mine = await newPerson();
    await upload(mine.id, PHOTO_JPG);
    assert.deepEqual(await ccLive.livePhoto.list(mine.id), [], "same account, other mode");
    assert.deepEqual(await ccOther.livePhoto.list(mine.id), [], "same mode, other account");
  });

  test("redact: answers {}, get shows redacted and redactedAt, download is 404, redact again is {}", async () => {
    const c = await newPerson();
    const p = await upload(c.id, PHOTO_JPG);
    await sleep(5);
    const r = await cc.livePhoto.redact(p.id);
    assert.deepEqual(r, {});
    const g = await cc.livePhoto.get(p.id);
    assert.equal(g.redacted, true);
    assertTimestamp(g.redactedAt, "redactedAt");
    assertPhoto(g, { clientId: c.id, contentType: "images/jpg", size: PHOTO_JPG.length, performLivenessCheck: true });
    assert.equal(g.id, p.id);
    assert.equal(g.createdAt, p.createdAt, "createdAt does not change");
    assert.ok(Date.parse(g.updatedAt) > Date.parse(p.updatedAt), `updatedAt must move: ${p.updatedAt} -> ${g.updatedAt}`);
    assert.ok(Date.parse(g.redactedAt) >= Date.parse(p.createdAt), "redactedAt after createdAt");
    await expectError(cc.livePhoto.download(p.id), {
      status: 404,
      type: "resource_not_found",
      message: `Live photo '${p.id}' has been redacted`,
    });
    assert.deepEqual(await cc.livePhoto.redact(p.id), {}, "redacting again is fine");
    assert.deepEqual(await cc.livePhoto.list(c.id), [await cc.livePhoto.get(p.id)], "the redacted record is still listed");
    // A redacted photo can still be deleted.
    await cc.livePhoto.delete(p.id);
    await expectError(cc.livePhoto.get(p.id), notFoundPhoto(p.id));
  });

  test("delete: 204 (SDK returns undefined), then get, download, redact, delete are 404 and list omits it", async () => {
    const c = await newPerson();
    const keep = await upload(c.id, PHOTO_JPG);
    const p = await upload(c.id, PHOTO_PNG);
    assert.equal(await cc.livePhoto.delete(p.id), undefined);
    await expectError(cc.livePhoto.get(p.id), notFoundPhoto(p.id));
    await expectError(cc.livePhoto.download(p.id), notFoundPhoto(p.id));
    await expectError(cc.livePhoto.redact(p.id), notFoundPhoto(p.id));
    await expectError(cc.livePhoto.delete(p.id), notFoundPhoto(p.id));
    assert.deepEqual(await cc.livePhoto.list(c.id), [keep]);
  });

  describe("not found and tenant isolation (404 Invalid live photo id)", () => {
    test("unknown id: get, download, redact, delete", async () => {
      const id = randomId();
      await expectError(cc.livePhoto.get(id), notFoundPhoto(id));
      await expectError(cc.livePhoto.download(id), notFoundPhoto(id));
      await expectError(cc.livePhoto.redact(id), notFoundPhoto(id));
      await expectError(cc.livePhoto.delete(id), notFoundPhoto(id));
    });

    for (const id of MALFORMED_IDS) {
      test(`malformed id '${id}' is answered like an unknown id`, async () => {
        await expectError(cc.livePhoto.get(id), notFoundPhoto(id));
        await expectError(cc.livePhoto.download(id), notFoundPhoto(id));
        await expectError(cc.livePhoto.redact(id), notFoundPhoto(id));
        await expectError(cc.livePhoto.delete(id), notFoundPhoto(id));
      });
    }

    for (const [name, intruder] of [["another account", ccOther], ["the other mode of the same account", ccLive]]) {
      test(`a photo cannot be read, downloaded, redacted or deleted from ${name}`, async () => {
        const c = await newPerson();
        const p = await upload(c.id, PHOTO_JPG);
        await expectError(intruder.livePhoto.get(p.id), notFoundPhoto(p.id));
        await expectError(intruder.livePhoto.download(p.id), notFoundPhoto(p.id));
        await expectError(intruder.livePhoto.redact(p.id), notFoundPhoto(p.id));
        await expectError(intruder.livePhoto.delete(p.id), notFoundPhoto(p.id));
        assert.deepEqual(await cc.livePhoto.get(p.id), p, "the owner's photo is unchanged");
        assertDownload(await cc.livePhoto.download(p.id), p, PHOTO_JPG);
      });

      test(`a photo cannot be uploaded to a client of ${name}`, async () => {
        const c = await newPerson();
        await expectError(intruder.livePhoto.upload(c.id, { data: b64(PHOTO_JPG) }), notFoundClient(c.id));
        assert.deepEqual(await cc.livePhoto.list(c.id), [], "nothing was attached to the owner's client");
      });
    }
  });

  describe("upload validation", () => {
    // Each case runs against a fresh client, which must have no photos after.
    const cases = [
      ["a 30 KB JPEG", () => ({ data: b64(SMALL_JPG) }), invalid("data", SIZE_MESSAGE)],
      ["a 5 MB JPEG", () => ({ data: b64(BIG_JPG) }), invalid("data", SIZE_MESSAGE)],
      ["a GIF", () => ({ data: b64(NOT_IMAGE_GIF) }), invalid("data")],
      ["data that is not base64", () => ({ data: "this is *not* base64 at all!" }), invalid("data")],
      ["base64 of text, not an image", () => ({ data: b64(Buffer.from("hello ".repeat(8000))) }), invalid("data")],
      ["no data", () => ({}), invalid("data")],
      ["performLivenessCheck as a string", () => ({ data: b64(PHOTO_JPG), performLivenessCheck: "yes" }), invalid("performLivenessCheck")],
    ];
    for (const [name, body, want] of cases) {
      test(`refuses ${name}`, async () => {
        const c = await newPerson();
        await expectError(malformed(name, () => cc.livePhoto.upload(c.id, body())), want);
        assert.deepEqual(await cc.livePhoto.list(c.id), [], "a refused upload leaves nothing behind");
      });
    }

    test("refuses a missing clientId (upload with undefined clientId)", async () => {
      await expectError(malformed("no clientId", () => cc.livePhoto.upload(undefined, { data: b64(PHOTO_JPG) })), invalid("clientId"));
    });

    test("refuses an unknown or malformed clientId with 404 Invalid client id", async () => {
      const id = randomId();
      await expectError(cc.livePhoto.upload(id, { data: b64(PHOTO_JPG) }), notFoundClient(id));
      await expectError(cc.livePhoto.upload("not-an-id", { data: b64(PHOTO_JPG) }), notFoundClient("not-an-id"));
    });
  });
});

// ---------------------------------------------------------------------------
// Audit logs: every access to a client or live photo is recorded, and the
// SDK's auditLog.get and auditLog.list read the caller's own.

/** assertAuditLog checks an entry against the SDK's AuditLog type and FaceVault's additions. */
function assertAuditLog(e, want) {
  assertId(e.id, e.createdAt, "audit log");
  assertTimestamp(e.createdAt, "createdAt");
  assertNoEmpty(e);
  assert.equal(e.memberId, undefined, "FaceVault has no team members: memberId is left out");
  for (const [k, v] of Object.entries(want)) {
    assert.deepEqual(e[k], v, `audit log ${k}`);
  }
  assert.match(e.keyId, ID_RE, "keyId is the API key's id, never the key");
  assert.ok(!JSON.stringify(e).includes(TEST_KEY) && !JSON.stringify(e).includes(OTHER_KEY), "no entry holds a key");
  assert.ok(Number.isInteger(e.seq) && e.seq >= 1, "seq");
  assert.match(e.hash, /^[0-9a-f]{64}$/);
  assert.match(e.prevHash, /^[0-9a-f]{64}$/);
  assert.ok(Number.isInteger(e.count) && e.count >= 1, "count");
}

const notFoundAuditLog = (id) => ({ status: 404, type: "resource_not_found", message: `Invalid audit log id '${id}'` });

describe("audit logs", () => {
  test("list: the newest entries are this test's own accesses, in the AuditLog shape, without personal data", async () => {
    const request = personRequest();
    const c = await cc.client.create(request);
    await cc.client.get(c.id);
    await cc.client.update(c.id, { email: `new.${uniq()}@example.com`, personDetails: { firstName: "Augusta" } });
    const p = await upload(c.id, PHOTO_JPG, { performLivenessCheck: false });
    await cc.livePhoto.download(p.id);

    const logs = await cc.auditLog.list({ pageSize: 5 });
    assert.ok(Array.isArray(logs), "auditLog.list resolves to an array of entries");
    assert.equal(logs.length, 5);
    const [download, uploaded, updated, read, created] = logs;
    assertAuditLog(download, { resourceType: "livePhoto", resourceId: p.id, clientId: c.id, trigger: "downloadLivePhoto", action: "download", outcome: "success", status: 200 });
    assertAuditLog(uploaded, { resourceType: "livePhoto", resourceId: p.id, clientId: c.id, trigger: "uploadLivePhoto", action: "create", outcome: "success" });
    assertAuditLog(updated, {
      resourceType: "client", resourceId: c.id, clientId: c.id, trigger: "updateClient", action: "update",
      diff: { action: "update", path: ["email", "personDetails.firstName"] },
    });
    assertAuditLog(read, { resourceType: "client", resourceId: c.id, clientId: c.id, trigger: "getClient", action: "read" });
    assertAuditLog(created, { resourceType: "client", resourceId: c.id, clientId: c.id, trigger: "createClient", action: "create" });
    assert.equal(read.diff, undefined, "only updates carry a diff");
    assert.equal(download.prevHash, uploaded.hash, "each entry carries the hash of the one before it");
    assert.equal(download.seq, uploaded.seq + 1);
    const text = JSON.stringify(logs);
    for (const pii of [request.email, "Ada", "Augusta", "Lovelace", b64(PHOTO_JPG).slice(0, 64)]) {
      assert.ok(!text.includes(pii), `the audit log must not hold ${pii}`);
    }
  });

  test("get: the same entry as the list; unknown, malformed and other tenants' ids are 404", async () => {
    const c = await newPerson();
    const [entry] = await cc.auditLog.list({ pageSize: 1 });
    assert.equal(entry.resourceId, c.id);
    assert.deepEqual(await cc.auditLog.get(entry.id), entry);
    const unknown = randomId();
    await expectError(cc.auditLog.get(unknown), notFoundAuditLog(unknown));
    await expectError(cc.auditLog.get("not-an-id"), notFoundAuditLog("not-an-id"));
    await expectError(ccOther.auditLog.get(entry.id), notFoundAuditLog(entry.id));
    await expectError(ccLive.auditLog.get(entry.id), notFoundAuditLog(entry.id));
    const others = await ccOther.auditLog.list({ pageSize: 1000 });
    assert.ok(!others.some((e) => e.id === entry.id), "another account does not list A's entries");
  });

  test("a failed attempt on another account's client is recorded as the caller's failure", async () => {
    const c = await newPerson();
    await expectError(ccOther.client.get(c.id), notFoundClient(c.id));
    const [attempt] = await ccOther.auditLog.list({ pageSize: 1 });
    assertAuditLog(attempt, { resourceType: "client", resourceId: c.id, trigger: "getClient", action: "read", outcome: "failure", status: 404 });
    const [mine] = await cc.auditLog.list({ pageSize: 1 });
    assert.equal(mine.trigger, "createClient", "the owner's log holds its own create, not the other's attempt");
  });

  test("paging: page and pageSize; page 0 and pageSize 1001 are 400; a bad key is 401", async () => {
    await newPerson();
    await newPerson();
    const [a, b] = await cc.auditLog.list({ pageSize: 2 });
    const [second] = await cc.auditLog.list({ page: 2, pageSize: 1 });
    assert.deepEqual(second, b);
    assert.notDeepEqual(a, b);
    await expectError(malformed("an error case", () => cc.auditLog.list({ page: 0 })), invalid("page"));
    await expectError(malformed("an error case", () => cc.auditLog.list({ pageSize: 1001 })), invalid("pageSize"));
    await expectError(sdk("bogus").auditLog.list(), unauthorized);
    await expectError(sdk("bogus").auditLog.get(randomId()), unauthorized);
  });

  test("entries cannot be changed through the API: other methods are 405", async () => {
    const [entry] = await cc.auditLog.list({ pageSize: 1 });
    for (const [method, path] of [["post", "auditLogs"], ["delete", `auditLogs/${entry.id}`], ["patch", `auditLogs/${entry.id}`], ["put", `auditLogs/${entry.id}`]]) {
      await assert.rejects(cc.axiosInstance.request({ method, url: path, data: {} }), (err) => {
        assert.equal(err.response.status, 405);
        assert.equal(err.response.data.type, "invalid_request");
        return true;
      });
    }
    assert.deepEqual(await cc.auditLog.get(entry.id), entry);
  });
});

// ---------------------------------------------------------------------------
// Checks: face authentication and age estimation (docs/contract.md section
// 9). photo.jpg and photo.png are the same face.

/** waitCheck polls a check until it is no longer pending. */
async function waitCheck(id, client = cc) {
  for (let i = 0; i < 300; i++) {
    const c = await client.check.get(id);
    if (c.status !== "pending") return c;
    await sleep(50);
  }
  assert.fail(`check ${id} still pending after 15 s`);
}

describe("checks", () => {
  const FACE_AUTH = "face_authentication_check";

  test("create, get, list: a returning face is clear, and a face enrolled under another client is reported", async () => {
    const c = await newPerson();
    const enrolled = await upload(c.id, PHOTO_JPG);
    const probe = await upload(c.id, PHOTO_PNG);
    const other = await newPerson();
    const otherFace = await upload(other.id, PHOTO_JPG);
    const created = await cc.check.create(c.id, { type: FACE_AUTH, livePhotoId: probe.id });
    assert.match(created.id, /^[0-9a-f]{24}$/);
    assert.equal(created.clientId, c.id);
    assert.equal(created.type, FACE_AUTH);
    assert.equal(created.livePhotoId, probe.id);
    assert.ok(["pending", "complete"].includes(created.status), `status ${created.status}`);
    const done = await waitCheck(created.id);
    assert.equal(done.status, "complete");
    assert.equal(done.createdAt, created.createdAt);
    const { outcome, breakdown } = done.result;
    assert.equal(outcome, "clear");
    const fa = breakdown.faceAuthentication;
    assert.equal(fa.facialSimilarity, "clear");
    assert.deepEqual(fa.breakdown.enrolledFaces.livePhotoIds, [enrolled.id]);
    assert.equal(fa.breakdown.facesMatched.length, 1);
    assert.equal(fa.breakdown.facesMatched[0].livePhotoId, enrolled.id);
    const score = fa.breakdown.facesMatched[0].facialSimilarityScore;
    assert.ok(Number.isInteger(score) && score >= 92 && score <= 100, `score ${score}`);
    const prev = breakdown.previouslyEnrolledFace;
    assert.equal(prev.outcome, "attention");
    const mine = prev.matches.filter((m) => m.clientId === other.id);
    assert.deepEqual(mine.map((m) => m.livePhotoId), [otherFace.id]);
    assert.ok(prev.matches.every((m) => m.clientId !== c.id), "the client's own faces are not 'previously enrolled'");

    const listed = await cc.check.list(c.id);
    assert.deepEqual(listed.map((x) => x.id), [created.id]);
    assert.deepEqual(listed[0], done);
    assert.deepEqual(await cc.check.list(other.id), []);
    await expectError(ccLive.check.get(created.id), { status: 404, type: "resource_not_found", message: `Invalid check id '${created.id}'` });
    await expectError(ccOther.check.get(created.id), { status: 404, type: "resource_not_found" });
    assert.deepEqual(await ccLive.check.list(c.id), []);
  });

  test("age estimation: an age with its range, validated against the server's minimum age", async () => {
    const c = await newPerson();
    const face = await upload(c.id, PHOTO_JPG);
    const created = await cc.check.create(c.id, { type: "age_estimation_check", livePhotoId: face.id });
    assert.equal(created.type, "age_estimation_check");
    assert.equal(created.entityName, `${c.personDetails.firstName} ${c.personDetails.lastName}`);
    const done = await waitCheck(created.id);
    assert.equal(done.status, "complete");
    const a = done.result.breakdown.ageEstimationAnalysis;
    const { age, ageMin, ageMax, minimumAge } = a.breakdown;
    assert.ok([age, ageMin, ageMax].every(Number.isInteger), JSON.stringify(a));
    assert.ok(ageMin <= age && age <= ageMax && ageMin >= 0, JSON.stringify(a));
    assert.equal(minimumAge, 18);
    assert.equal(a.ageValidation, age >= 18 ? "clear" : "attention");
    assert.equal(done.result.outcome, a.ageValidation);
    const prev = done.result.breakdown.previouslyEnrolledFace;
    assert.ok(["clear", "attention"].includes(prev.outcome), JSON.stringify(prev));
    assert.equal(prev.outcome === "attention", prev.matches.length > 0);
    assert.ok(prev.matches.every((m) => m.clientId !== c.id), "the client's own faces are not 'previously enrolled'");
    assert.deepEqual((await cc.check.list(c.id)).map((x) => x.id), [created.id]);
  });

    test("with no other face of the client enrolled, the outcome is attention", async () => {
    const c = await newPerson();
    const noface = await upload(c.id, NO_FACE_JPG);
    const created = await cc.check.create(c.id, { type: FACE_AUTH, livePhotoId: (await upload(c.id, PHOTO_JPG)).id });
    // Its only other photo has no face: nothing is enrolled.
    const done = await waitCheck(created.id);
    assert.equal(done.result.outcome, "attention");
    assert.deepEqual(done.result.breakdown.faceAuthentication.breakdown.enrolledFaces.livePhotoIds, []);
    assert.deepEqual(done.result.breakdown.faceAuthentication.breakdown.facesMatched, []);
    assert.ok(noface.id);
  });

  test("create refuses what cannot be checked, with param", async () => {
    const c = await newPerson();
    const face = await upload(c.id, PHOTO_JPG);
    const noface = await upload(c.id, NO_FACE_JPG);
    const b = await newPerson();
    const bFace = await upload(b.id, PHOTO_JPG);
    await expectError(malformed("an error case", () => cc.check.create(c.id, { type: "palm_check", livePhotoId: face.id })), invalid("type", "Invalid check type 'palm_check'"));
    await expectError(malformed("an error case", () => cc.check.create(c.id, { livePhotoId: face.id })), invalid("type", "The 'type' field is required"));
    await expectError(cc.check.create(c.id, { type: "identity_check", livePhotoId: face.id }), { status: 422, type: "check_type_unavailable", param: "type" });
    await expectError(cc.check.create(c.id, { type: "age_estimation_check", livePhotoId: noface.id }), { status: 422, type: "no_face_detected", param: "livePhotoId" });
    await expectError(malformed("an error case", () => cc.check.create(c.id, { type: FACE_AUTH })), invalid("livePhotoId", "The 'livePhotoId' field is required"));
    await expectError(cc.check.create(c.id, { type: FACE_AUTH, livePhotoId: bFace.id }), { ...notFoundPhoto(bFace.id), param: "livePhotoId" });
    const ghost = randomId();
    await expectError(cc.check.create(ghost, { type: FACE_AUTH, livePhotoId: face.id }), { ...notFoundClient(ghost), param: "clientId" });
    await expectError(ccOther.check.create(c.id, { type: FACE_AUTH, livePhotoId: face.id }), { ...notFoundClient(c.id), param: "clientId" });
    await expectError(cc.check.create(c.id, { type: FACE_AUTH, livePhotoId: noface.id }), { status: 422, type: "no_face_detected", param: "livePhotoId" });
    const unchecked = await upload(c.id, PHOTO_JPG, { performLivenessCheck: false });
    await expectError(cc.check.create(c.id, { type: FACE_AUTH, livePhotoId: unchecked.id }), { status: 422, type: "face_data_unavailable", param: "livePhotoId" });
    await cc.livePhoto.redact(face.id);
    await expectError(cc.check.create(c.id, { type: FACE_AUTH, livePhotoId: face.id }), { status: 422, type: "live_photo_redacted", param: "livePhotoId" });
    assert.deepEqual(await cc.check.list(c.id), []);
  });

  test("update changes nothing of a face check; validate records a reviewer's outcome", async () => {
    const c = await newPerson();
    await upload(c.id, PHOTO_JPG);
    const probe = await upload(c.id, PHOTO_PNG);
    const created = await cc.check.create(c.id, { type: FACE_AUTH, livePhotoId: probe.id });
    const done = await waitCheck(created.id);
    const updated = await cc.check.update(created.id, { clientId: c.id, enableMonitoring: false });
    assert.deepEqual(updated, done);
    await expectError(cc.check.update(created.id, { type: "identity_check" }), invalid("type", "The 'type' of a check cannot be changed"));
    const v = await cc.check.validate(created.id, { outcome: "attention", comment: "looked twice" });
    assert.deepEqual(v, { outcome: "attention", comment: "looked twice" });
    const got = await cc.check.get(created.id);
    assert.equal(got.validation.outcome, "attention");
    assert.equal(got.validation.comment, "looked twice");
    assert.equal(got.result.outcome, "clear", "the result stays as computed");
    await expectError(malformed("an error case", () => cc.check.validate(created.id, { outcome: "maybe" })), invalid("outcome"));
    await expectError(ccOther.check.validate(created.id, { outcome: "clear" }), { status: 404, type: "resource_not_found" });
  });

  test("a photo a check uses cannot be deleted, but can be redacted; deleting the client deletes its checks", async () => {
    const c = await newPerson();
    await upload(c.id, PHOTO_JPG);
    const probe = await upload(c.id, PHOTO_PNG);
    const created = await cc.check.create(c.id, { type: FACE_AUTH, livePhotoId: probe.id });
    await waitCheck(created.id);
    await expectError(cc.livePhoto.delete(probe.id), {
      status: 409,
      type: "live_photo_in_use",
      message: `Live photo '${probe.id}' is used by a check and cannot be deleted; it can be redacted`,
    });
    await cc.livePhoto.redact(probe.id);
    assert.equal((await cc.check.get(created.id)).status, "complete");
    await cc.client.delete(c.id);
    await expectError(cc.check.get(created.id), { status: 404, type: "resource_not_found" });
  });
});

// ---------------------------------------------------------------------------
// Wire details the SDK hides: the same axios instance, with the SDK's headers.

describe("wire details behind the SDK", () => {
  test("delete answers 204 with an empty body", async () => {
    const c = await newPerson();
    const p = await upload(c.id, PHOTO_JPG);
    const rp = await cc.axiosInstance.delete(`livePhotos/${p.id}`);
    assert.equal(rp.status, 204);
    assert.equal(rp.data, "");
    const rc = await cc.axiosInstance.delete(`clients/${c.id}`);
    assert.equal(rc.status, 204);
    assert.equal(rc.data, "");
  });

  test("list envelope, with and without the trailing slash", async () => {
    const c = await newPerson();
    for (let i = 0; i < 3; i++) await upload(c.id, PHOTO_JPG);
    for (const path of ["livePhotos/", "livePhotos"]) {
      const r = await cc.axiosInstance.get(path, { params: { clientId: c.id, page: 1, pageSize: 2 } });
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.data).sort(), ["items", "page", "pageSize", "pages", "totalItems"]);
      assert.equal(r.data.page, 1);
      assert.equal(r.data.pageSize, 2);
      assert.equal(r.data.totalItems, 3);
      assert.equal(r.data.pages, 2);
      assert.equal(r.data.items.length, 2);
    }
    const empty = await cc.axiosInstance.get("livePhotos", { params: { clientId: randomId() } });
    assert.deepEqual(empty.data, { page: 1, pageSize: 100, totalItems: 0, pages: 0, items: [] });
    const clients = await cc.axiosInstance.get("clients", { params: { pageSize: 1 } });
    assert.equal(clients.data.pageSize, 1);
    assert.equal(clients.data.items.length, 1);
    assert.equal(clients.data.pages, clients.data.totalItems);
  });
});

// ---------------------------------------------------------------------------
// Webhooks: cc.webhook, and deliveries checked with the SDK's EventVerifier.

/** receiver starts an HTTP server on 127.0.0.1 that records deliveries. */
async function receiver() {
  const got = [];
  const waiters = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const d = { body: Buffer.concat(chunks), headers: req.headers };
      got.push(d);
      for (const w of waiters.splice(0)) w();
      res.writeHead(200).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks`,
    got,
    /** next waits for a delivery that pred accepts. */
    async next(pred, ms = 30_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const d = got.find(pred);
        if (d) return d;
        if (Date.now() > deadline) assert.fail(`no matching delivery within ${ms} ms (got ${got.length})`);
        await Promise.race([new Promise((r) => waiters.push(r)), sleep(200)]);
      }
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

describe("webhooks", () => {
  test("create shows the secret once; get, update, list, delete; another account sees nothing", async () => {
    const rc = await receiver();
    try {
      const w = await cc.webhook.create({ url: rc.url, events: ["client.created", "check.completed"], description: "sdk" });
      assertId(w.id, w.createdAt, "webhook");
      assert.equal(w.url, rc.url);
      assert.equal(w.enabled, true);
      assert.deepEqual(w.events, ["client.created", "check.completed"]);
      assert.equal(typeof w.secret, "string");
      assert.ok(w.secret.length >= 32);
      const got = await cc.webhook.get(w.id);
      assert.equal(got.secret, undefined);
      assert.equal(got.description, "sdk");
      const u = await cc.webhook.update(w.id, { enabled: false, events: ["*"] });
      assert.equal(u.enabled, false);
      assert.deepEqual(u.events, ["*"]);
      assert.equal(u.url, rc.url);
      const list = await cc.webhook.list();
      assert.ok(list.some((x) => x.id === w.id && x.secret === undefined));
      await expectError(ccOther.webhook.get(w.id), { status: 404, type: "resource_not_found", message: `Invalid webhook id '${w.id}'` });
      await cc.webhook.delete(w.id);
      const gone = { status: 404, type: "resource_not_found", message: `Invalid webhook id '${w.id}'` };
      await expectError(cc.webhook.get(w.id), gone);
      await expectError(cc.webhook.update(w.id, { enabled: true }), gone);
      await expectError(cc.webhook.delete(w.id), gone);
    } finally {
      await rc.close();
    }
  });

  test("create refuses plain http, private addresses and unknown event types, with param", async () => {
    await expectError(cc.webhook.create({ url: "http://example.com/hooks", events: ["*"] }),
      { status: 400, type: "invalid_request", param: "url" });
    for (const url of ["https://10.0.0.1/hooks", "https://169.254.169.254/latest", "https://[::1]/", "https://127.0.0.2/x"]) {
      await expectError(cc.webhook.create({ url, events: ["*"] }), { status: 400, type: "invalid_request", param: "url" });
    }
    await expectError(malformed("an unknown event type", () => cc.webhook.create({ url: "http://127.0.0.1:9/hooks", events: ["document.created"] })),
      { status: 400, type: "invalid_request", param: "events" });
    await expectError(malformed("no url", () => cc.webhook.create({ events: ["*"] })), { status: 400, type: "invalid_request", param: "url" });
  });

  test("a delivery verifies with the SDK's EventVerifier, and a tampered one does not", async () => {
    const rc = await receiver();
    try {
      const w = await cc.webhook.create({ url: rc.url, events: ["client.created"] });
      const c = await newPerson();
      const d = await rc.next((d) => JSON.parse(d.body.toString()).payload.id === c.id);
      assert.equal(d.headers["content-type"], "application/json");
      const signature = d.headers["complycube-signature"];
      assert.match(signature, /^[0-9a-f]{64}$/);
      const event = new EventVerifier(w.secret).constructEvent(d.body.toString(), signature);
      assert.equal(event.type, "client.created");
      assert.equal(event.resourceType, "client");
      assert.equal(event.payload.id, c.id);
      assertTimestamp(event.createdAt, "event createdAt");
      assert.match(event.id, ID_RE);
      assert.ok(!d.body.toString().includes(c.email), "the event carries no personal data");
      assert.throws(() => new EventVerifier(w.secret).constructEvent(d.body.toString().replace(c.id, randomId()), signature),
        /Invalid signature/);
      assert.throws(() => new EventVerifier("another secret").constructEvent(d.body.toString(), signature), /Invalid signature/);
      await cc.webhook.delete(w.id);
    } finally {
      await rc.close();
    }
  });
});
