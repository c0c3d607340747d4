#!/usr/bin/env node
// Decodes an OTLP/HTTP protobuf trace export (an ExportTraceServiceRequest, what Ventros POSTs
// to /v1/traces) with protobufjs and the .proto files under proto/ (written from the
// OpenTelemetry protocol specification), and prints it as JSON for otlp_tests to check:
// ids as lowercase hex, 64-bit numbers as decimal strings, enums by name.
//
// Strict: the input must be exactly what protobufjs itself would encode for the decoded message
// (canonical field order and varints, no unknown or misnumbered fields, no trailing bytes), else
// it exits 1 saying where the bytes differ. Exit 2: protobufjs is not installed (scripts/setup).
//
// Usage: node tests/otlp/decode.js <file>

"use strict";

const fs = require("fs");
const path = require("path");

let protobuf;
try {
  protobuf = require("protobufjs");
} catch (e) {
  process.stderr.write(
    "decode.js: the npm module protobufjs is missing in tests/otlp/node_modules: " +
      "run scripts/setup (it runs `npm ci` in tests/otlp)\n");
  process.exit(2);
}

function Fail(message) {
  process.stderr.write("decode.js: " + message + "\n");
  process.exit(1);
}

if (process.argv.length !== 3) Fail("usage: node decode.js <file>");
const input = fs.readFileSync(process.argv[2]);

const protoDir = path.join(__dirname, "proto");
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(protoDir, target);
root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto");
const Request = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");

let message;
try {
  message = Request.decode(input);
} catch (e) {
  Fail("not a valid ExportTraceServiceRequest: " + e.message);
}

const again = Buffer.from(Request.encode(message).finish());
if (!again.equals(input)) {
  let at = 0;
  while (at < again.length && at < input.length && again[at] === input[at]) ++at;
  Fail(`the input (${input.length} bytes) is not the canonical encoding of what it decodes to ` +
       `(${again.length} bytes): first difference at byte ${at}`);
}

const object = Request.toObject(message, {
  longs: String,
  enums: String,
  bytes: String,  // base64, turned into hex below
  defaults: true,
  arrays: true,
  oneofs: true,
});

const Hex = (base64) => Buffer.from(base64, "base64").toString("hex");
for (const resourceSpans of object.resourceSpans) {
  for (const scopeSpans of resourceSpans.scopeSpans) {
    for (const span of scopeSpans.spans) {
      span.traceId = Hex(span.traceId);
      span.spanId = Hex(span.spanId);
      span.parentSpanId = Hex(span.parentSpanId);
      for (const link of span.links) {
        link.traceId = Hex(link.traceId);
        link.spanId = Hex(link.spanId);
      }
    }
  }
}

process.stdout.write(JSON.stringify(object) + "\n");
